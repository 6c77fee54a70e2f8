/*
 * pq_internal.h - helpers shared by the queue modules (not installed).
 */
#ifndef PQ_INTERNAL_H
#define PQ_INTERNAL_H

#include <stddef.h>
#include <sys/time.h>

#include "protein_queue.h"

/* Largest JSON text of one trial's parameters; larger points are PQ_EINVAL. */
#define PQ_PARAMS_MAX (64 * 1024)
/* Error and reason texts are truncated to this many bytes. */
#define PQ_ERROR_MAX 1024

/* The Redis Functions library (generated from functions.lua). */
extern const char pq_functions_lua[];
extern const char pq_functions_version[]; /* hash of its text */

/* What ctx->redis points to: the live connection and what it takes to
 * open it again after the server went away. */
typedef struct pq_conn {
    struct redisContext *rc;
    int is_unix;
    char host[256]; /* or the socket path */
    int port;
    char user[128]; /* empty: AUTH with the password alone */
    int db;
    char *password; /* NULL: no AUTH */
    struct timeval connect_tv, command_tv;
} pq_conn;

/* Parses redis://[user@]host[:port][/db] or unix:///path into conn's
 * is_unix, host, port (6379 unless given), user and db, which the caller
 * zeroed (the rest is left alone). A password in the URL (user:password@,
 * :password@) is refused: URLs end up in job environments, process lists
 * and logs. Messages show ctx->url, the redacted URL (pq_url_redact),
 * which the caller set. Returns PQ_OK or PQ_EINVAL with a message
 * (client.c; the fuzz target tests/fuzz/fuzz_redis_url.c calls it too). */
int pq_url_parse(pq_context *ctx, const char *url, pq_conn *conn);

/* Sets ctx->err = err and ctx->errstr from the format; returns err. */
int pq_set_error(pq_context *ctx, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* malloc'ed copy of s (NULL stays NULL; NULL on out-of-memory too). */
char *pq_strdup(const char *s);

/* A growing malloc'ed string; start from {0}. After an allocation failure
 * (oom set) further appends do nothing. */
typedef struct pq_strbuf {
    char *s;
    size_t len, cap;
    int oom;
} pq_strbuf;

/* Appends n bytes of s / the string s, keeping b->s NUL-terminated. */
void pq_sb_add(pq_strbuf *b, const char *s, size_t n);
void pq_sb_puts(pq_strbuf *b, const char *s);

/* Hands the buffer to *out (the caller frees it; "" when nothing was
 * appended), or frees it, sets *out = NULL and returns PQ_ENOMEM. */
int pq_sb_finish(pq_strbuf *b, char **out);

/* 1 when p's number can be written: finite, and when flagged as an
 * integer, whole and within int64. */
int pq_param_number_ok(const pq_param *p);

/* Text of a number parameter as JSON, arguments and the environment show
 * it: integers without a fraction, other numbers with '.' or an exponent
 * so that they read back as non-integers. PQ_EINVAL when not
 * pq_param_number_ok. */
int pq_param_number_text(const pq_param *p, char buf[40]);

/* Appends p's value to b: a number as pq_param_number_text writes it, a
 * string as it is or, when json is set, as a JSON string literal (json.c).
 * PQ_EINVAL for a number that is not pq_param_number_ok. */
int pq_sb_param_value(pq_strbuf *b, const pq_param *p, int json);

/* Fills out[33] with 32 random hex digits (128 bits from getrandom).
 * Returns PQ_OK or PQ_EIO. */
int pq_random_token(char out[33]);

/* A reply as returned by pq_fcall: an opaque redisReply. */
typedef struct redisReply pq_reply;

/* Calls FCALL (or FCALL_RO when read_only) on the protein function `fn`
 * with one key, or two when key2 is not NULL, and argc arguments of the
 * given lengths (argvlen NULL: strlen). Server errors "ECODE message"
 * become that PQ_E* code with the message in ctx->errstr; a lost
 * connection is PQ_EIO (the next call reconnects once). On success
 * *reply holds the reply (free with pq_reply_free). */
int pq_fcall(pq_context *ctx, const char *fn, int read_only, const char *key,
             const char *key2, int argc, const char **argv,
             const size_t *argvlen, pq_reply **reply);

/* pq_fcall with n_keys keys (keys[0..n_keys)), for a function that reads
 * several sweeps' or users' keys in one call. */
int pq_fcall_keys(pq_context *ctx, const char *fn, int read_only, int n_keys,
                  const char *const *keys, int argc, const char **argv,
                  const size_t *argvlen, pq_reply **reply);

/* pq_fcall with the meta key of `sweep` ("protein:{SWEEP}:meta", the name
 * already checked with pq_check_sweep) as the first key. When reply is
 * NULL the reply is freed here; the result code is all the caller gets. */
int pq_sweep_fcall(pq_context *ctx, const char *sweep, const char *fn,
                   int read_only, const char *key2, int argc, const char **argv,
                   const size_t *argvlen, pq_reply **reply);

/* pq_interrupt, told whether the interrupt comes from a node's spool
 * (spooled != 0): such an interrupt is PQ_ESTATE, nothing changed, once
 * its trial was claimed again since (a requeued task resumed it), so
 * that the late interrupt of an earlier run never ends a running one. */
int pq_interrupt_call(pq_context *ctx, const char *sweep, long trial_id,
                      const char *token, const char *reason, int spooled);

/* Runs any command (argv form) and returns its reply; error replies are
 * PQ_EPROTO (PQ_EPERM for ACL denials). extra_ms lengthens the command
 * timeout for this call (blocking reads). */
int pq_command(pq_context *ctx, int argc, const char **argv,
               const size_t *argvlen, int extra_ms, pq_reply **reply);

/* The value of `field` in a flat [field, value, ...] array reply, or NULL. */
const char *pq_flat_get(const pq_reply *flat, const char *field);

/* pq_flat_get's value as a long / double (absent or not a number:
 * fallback). */
long pq_flat_long(const pq_reply *flat, const char *field, long fallback);
double pq_flat_double(const pq_reply *flat, const char *field, double fallback);

/* A malloc'ed copy of pq_flat_get's value; NULL when it is absent or
 * empty, and NULL with *oom = 1 when the copy fails. */
char *pq_flat_strdup(const pq_reply *flat, const char *field, int *oom);

/* Frees a reply from pq_fcall or pq_command (NULL: no-op). */
void pq_reply_free(pq_reply *reply);

/* Key of a sweep: "protein:{NAME}:suffix" into buf. */
void pq_key(char *buf, size_t len, const char *sweep, const char *suffix);

/* Checks the sweep name and sets PQ_EINVAL with a message when bad. */
int pq_check_sweep(pq_context *ctx, const char *sweep);

/* Packs one queue entry: msgpack [params JSON text, pq_params_pack bytes
 * as a str] (str, not bin: Redis' Lua cmsgpack cannot read bin). The
 * functions store the JSON in the trial hash and the packed bytes for the
 * observation stream. PQ_EINVAL when the JSON exceeds PQ_PARAMS_MAX. */
int pq_entry_pack(const pq_params *p, char **buf, size_t *len);

/* FCALL arguments: `fixed` leading ones that the caller fills in, then one
 * packed queue entry (pq_entry_pack) per point. */
typedef struct pq_point_args {
    const char **argv;
    size_t *argvlen;
    char **entries; /* the packed buffers that argv[fixed..] point to */
    size_t n;       /* points packed */
} pq_point_args;

/* Allocates args for `fixed` + n arguments and packs points[0..n) into
 * argv[fixed..]. On failure sets ctx's error ("sweep 'S': WHAT point I has
 * a non-finite number or is over PQ_PARAMS_MAX bytes as JSON", or out of
 * memory) and returns its code with nothing left to free. On success free
 * args with pq_point_args_free. */
int pq_point_args_build(pq_context *ctx, const char *sweep, const char *what,
                        size_t fixed, const pq_params *points, size_t n,
                        pq_point_args *args);
void pq_point_args_free(pq_point_args *args);

/* 1 when buf begins with one whole msgpack object whose every declared
 * string, binary and container size fits in the len bytes (each element
 * at least one byte), 0 otherwise. msgpack-c allocates a container's
 * elements before reading them, so 12 bytes declaring a map of 2^32
 * entries would ask for 64 GiB: every decoder checks this first. */
int pq_msgpack_bounded(const char *buf, size_t len);

/* Reads a msgpack map name -> value (as pq_params_pack writes) from a
 * msgpack_object (passed as const void * so that this header needs no
 * msgpack.h). *out is left empty on failure: PQ_EINVAL, PQ_ENOMEM. */
int pq_params_from_object(const void *object, pq_params *out);

/* Decodes one observation stream entry body (the msgpack map
 * {trial, outcome, params, fallback, score?, cost?} that functions.lua
 * writes) into *o (zeroed first; free o->params with pq_params_free).
 * PQ_EINVAL, with *o left empty, for anything else: not such a map, a
 * trial id that is not a whole number >= 1, an unknown outcome, a score
 * or cost that is not a finite number, params that are not a flat map.
 * PQ_ENOMEM. */
int pq_observation_decode(const char *buf, size_t len, pq_observation *o);

/* Fills rec from a trial hash (a flat [field, value, ...] reply of
 * HGETALL). PQ_EPROTO naming the field, with rec left empty, for a hash
 * without a positive id or a known status, with params that are not a
 * flat JSON object, or with a score, cost or progress that is not a
 * finite number; PQ_EPROTO naming the key for protein_trials' mark of a
 * trial key that holds no hash ({id, ID, key_type, TYPE}); PQ_ENOMEM.
 * The caller frees what rec holds (as
 * pq_trial_records_free does for each element). */
int pq_trial_record_from_flat(pq_context *ctx, const char *sweep,
                              const pq_reply *h, pq_trial_record *rec);

/* Builds *out (free with pq_trial_free) from protein_claim's reply {id,
 * token, status, fallback, resumed, attempts, params JSON, metric,
 * cost_metric}. A reply that names a trial (id and token) but whose other
 * fields cannot be decoded is PQ_EPROTO with *claimed_id set, so that the
 * caller can fail that trial instead of leaving it running; *claimed_id
 * is 0 otherwise. PQ_ENOMEM. ctx's url appears in messages. */
int pq_trial_from_claim_reply(pq_context *ctx, const char *sweep,
                              const pq_reply *r, pq_trial **out,
                              long *claimed_id);

/* Parses one spool record's text (NUL-terminated; cut into lines in
 * place) into rec, as pq_spool_replay reads the files pq_spool_write
 * writes. Returns 0, or -1 when a field is missing, malformed or too long
 * for rec (a sweep name, token or claim key is never cut short; spool.c;
 * the fuzz target tests/fuzz/fuzz_spool.c calls it too). */
int pq_spool_parse_record(char *text, pq_spool_record *rec);

/* Parses a decimal long / double field value (NULL or bad: fallback). */
long pq_parse_long(const char *s, long fallback);
double pq_parse_double(const char *s, double fallback);

#endif /* PQ_INTERNAL_H */
