/*
 * acl.c - the Redis ACL rules of protein's identities (docs/admin.md,
 * "Security"): a user reaches the keys of their own sweeps only; the
 * privileged services (the plugin, proteind) reach every protein key.
 * Both may run exactly the commands protein's functions run, so that the
 * ACL, checked by Redis for each of them, is what confines a caller.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "pq_internal.h"

/* Most words in a role's rules. */
#define RULE_WORDS_MAX 64

/* Every command functions.lua runs (tests/integration/test_identity.sh
 * checks the list against the file), plus FCALL, FCALL_RO and what a
 * client needs around them. */
static const char ACL_COMMANDS[] =
    "-@all +fcall +fcall_ro +ping +hello +auth +select +time +type +exists "
    "+get +set +pexpire +del +unlink +hget +hset +hmget +hincrby +hdel +lpop "
    "+rpush +llen +lindex +lmove +lrange +lrem +zadd +zrem +zrange "
    "+zrangebyscore +zrangebylex +zremrangebyscore +zscore +zcard +zcount "
    "+sadd +smismember +xadd";

/* Reads beyond the functions' commands, on the role's own keys: a person
 * reads a trial hash whole and the observation stream (trials are plain
 * text in Redis so that people can read them; docs/redis-schema.md), and
 * proteind, a person's own included, follows the stream with XREAD. */
#define ACL_READS "+hgetall +xrange +xread"

/* Contract in protein_queue.h. */
int pq_acl_user_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > PQ_OWNER_MAX)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* Contract in protein_queue.h. */
int pq_user_name(uid_t uid, char *buf, size_t len)
{
    return pq_own_identity(uid, buf, len, NULL, 0);
}

/* Contract in protein_queue.h. */
char *pq_passwd_lookup(const char *name, uid_t uid, struct passwd *pw)
{
    long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t size = hint > 0 ? (size_t)hint : 4096;
    struct passwd *found = NULL;
    char *scratch = NULL;
    int rc;

    for (;;) {
        char *grown = realloc(scratch, size);
        if (!grown)
            break;
        scratch = grown;
        rc = name ? getpwnam_r(name, pw, scratch, size, &found)
                  : getpwuid_r(uid, pw, scratch, size, &found);
        if (rc != ERANGE || size >= PQ_PASSWD_MAX)
            break;
        size *= 2;
    }
    if (found == NULL) {
        free(scratch);
        return NULL;
    }
    return scratch;
}

/* Contract in protein_queue.h. */
int pq_own_identity(uid_t uid, char *user, size_t ulen, char *path, size_t plen)
{
    struct passwd pw;
    char *scratch;
    struct stat st;
    int rc = PQ_EINVAL;

    if (plen > 0)
        path[0] = '\0';
    scratch = pq_passwd_lookup(NULL, uid, &pw);
    if (!scratch || !pq_acl_user_name_valid(pw.pw_name) ||
        strlen(pw.pw_name) >= ulen)
        goto done;
    snprintf(user, ulen, "%s", pw.pw_name);
    if (plen > 0 && (!pw.pw_dir ||
                     (size_t)snprintf(path, plen, "%s/%s", pw.pw_dir,
                                      PQ_USER_PASSWORD_FILE) >= plen ||
                     stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
        path[0] = '\0';
    rc = PQ_OK;
done:
    free(scratch);
    return rc;
}

/* Contract in protein_queue.h. */
void pq_own_credentials(pq_connect_options *o, char *user, char *path,
                        size_t plen)
{
    /* the URL pq_connect will use: an empty one is no URL */
    const char *url = o->url && *o->url ? o->url : getenv("PROTEIN_REDIS");

    if (o->password_file || pq_env_password() || (url && strchr(url, '@')) ||
        pq_own_identity(getuid(), user, PQ_OWNER_MAX + 1, path, plen) !=
            PQ_OK ||
        !path[0])
        return;
    o->user = user;
    o->password_file = path;
}

/* Contract in protein_queue.h. */
int pq_acl_rules(pq_acl_role role, const char *name, char *buf, size_t len)
{
    int n;
    switch (role) {
    case PQ_ACL_USER:
        if (!pq_acl_user_name_valid(name))
            return PQ_EINVAL;
        n = snprintf(buf, len,
                     "resetkeys ~protein:{%s/* resetchannels %s " ACL_READS,
                     name, ACL_COMMANDS);
        break;
    case PQ_ACL_SERVICE:
        n = snprintf(buf, len,
                     "resetkeys ~protein:* resetchannels %s " ACL_READS,
                     ACL_COMMANDS);
        break;
    default: return PQ_EINVAL;
    }
    return n < 0 || (size_t)n >= len ? PQ_EINVAL : PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_acl_password(char password[33])
{
    return pq_random_token(password);
}

/* Contract in protein_queue.h. */
int pq_acl_provision(pq_context *ctx, pq_acl_role role, const char *name,
                     const char *password, int *saved)
{
    char rules[1024], pass_rule[40];
    const char *argv[RULE_WORDS_MAX + 6];
    const char *save[2] = {"ACL", "SAVE"};
    pq_reply *r = NULL;
    int argc = 0, rc;

    *saved = 0;
    if (!pq_acl_user_name_valid(name))
        return pq_set_error(ctx, PQ_EINVAL,
                            "invalid user name '%s': 1 to %d characters of "
                            "[a-z0-9_.-], starting with a letter or '_'",
                            name ? name : "(null)", PQ_OWNER_MAX);
    if (pq_acl_rules(role, name, rules, sizeof rules) != PQ_OK)
        return pq_set_error(ctx, PQ_EINVAL, "no ACL rules for that role");
    /* The rule must carry the whole password: a cut one would set a
     * password nobody has. */
    if (!password || !*password ||
        (size_t)snprintf(pass_rule, sizeof pass_rule, ">%s", password) >=
            sizeof pass_rule)
        return pq_set_error(ctx, PQ_EINVAL,
                            "a password of 1 to %zu characters is needed",
                            sizeof pass_rule - 2);
    argv[argc++] = "ACL";
    argv[argc++] = "SETUSER";
    argv[argc++] = name;
    argv[argc++] = "reset";
    argv[argc++] = "on";
    argv[argc++] = pass_rule;
    for (char *w = strtok(rules, " "); w && argc < RULE_WORDS_MAX + 6;
         w = strtok(NULL, " "))
        argv[argc++] = w;
    /* Listed before the password changes: a failure after ACL SETUSER
     * would report a password as not set that is, and the caller would
     * throw away the only copy of it. */
    if (role == PQ_ACL_USER) {
        const char *add[4] = {"ZADD", "protein:users", "0", name};
        if ((rc = pq_command(ctx, 4, add, NULL, 0, &r)) != PQ_OK)
            return rc;
        pq_reply_free(r);
    }
    if ((rc = pq_command(ctx, argc, argv, NULL, 0, &r)) != PQ_OK)
        return rc;
    pq_reply_free(r);
    /* Persist when the server has an ACL file; without one the user lives
     * until Redis restarts (the caller says so). */
    if (pq_command(ctx, 2, save, NULL, 0, &r) == PQ_OK) {
        *saved = 1;
        pq_reply_free(r);
    }
    ctx->err = PQ_OK;
    ctx->errstr[0] = '\0';
    return PQ_OK;
}
