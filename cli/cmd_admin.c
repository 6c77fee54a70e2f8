/*
 * cmd_admin.c - `protein admin`: what a cluster admin runs to give people
 * and services their Redis identities (docs/admin.md, "Security").
 *
 *   add-user NAME      a Redis ACL user for Unix user NAME that reaches
 *                      NAME's sweeps only; the password goes to
 *                      ~NAME/.config/protein/redis-password (mode 0600,
 *                      written as NAME), where NAME's protein commands
 *                      find it.
 *   add-service NAME --secret-file FILE
 *                      a privileged service (the plugin, proteind); the
 *                      password goes to FILE (mode 0600, the caller's:
 *                      root's), in a directory that must exist.
 *   rules user NAME | rules service
 *                      prints the ACL rules of a role (for users.acl).
 *
 * The connection must be the admin's (ACL SETUSER): --redis and
 * --password-file as for every verb. A new password is written beside its
 * file before Redis learns it and renamed into place after, so a failure
 * leaves the old password working.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define VERB "admin"

/* The steps of replacing a secret file, in this order around the change
 * in Redis, so that no failure leaves Redis with a password that no file
 * holds (a running service would be locked out). */
typedef enum secret_op {
    SECRET_STAGE,  /* create tmp holding the password */
    SECRET_COMMIT, /* rename tmp to path */
    SECRET_DISCARD /* remove tmp */
} secret_op;

/* Does op as the calling user. SECRET_STAGE creates tmp, a new file (mode
 * 0600, never through a symlink, never over an existing file) holding
 * password and a newline, with the owner and group of the regular file at
 * path if there is one, after creating tmp's missing directories (mode
 * 0700) when mkdirs; it leaves no tmp behind when it fails. SECRET_COMMIT
 * renames tmp to path, replacing whatever path is (a symlink too) rather
 * than writing through it. SECRET_DISCARD removes tmp. Returns 0, or -1
 * with errno. */
static int secret_do(secret_op op, const char *tmp, const char *path,
                     const char *password, int mkdirs)
{
    char dir[4096];
    char line[64];
    char *slash;
    struct stat st;
    int fd, saved;
    ssize_t w;
    size_t len;

    if (op == SECRET_COMMIT)
        return rename(tmp, path);
    if (op == SECRET_DISCARD)
        return unlink(tmp);
    if (mkdirs) {
        snprintf(dir, sizeof(dir), "%s", tmp);
        for (slash = strchr(dir + 1, '/'); slash;
             slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return -1;
            *slash = '/';
        }
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    /* The umask may have taken bits off; the mode is part of the promise.
     * An admin who gave a service's file to the service's user keeps it
     * readable by them when the password changes. */
    if (fchmod(fd, 0600) != 0 ||
        (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         (st.st_uid != geteuid() || st.st_gid != getegid()) &&
         fchown(fd, st.st_uid, st.st_gid) != 0)) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    len = (size_t)snprintf(line, sizeof(line), "%s\n", password);
    w = write(fd, line, len);
    saved = w < 0 ? errno : EIO;
    if (close(fd) != 0 && w == (ssize_t)len) {
        saved = errno;
        w = -1;
    }
    if (w != (ssize_t)len) {
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

/* secret_do(op, ...) as user pw when pw is given and not the caller (a
 * child process drops to pw's uid and gids first), so that nothing in
 * pw's home is written with root's rights; pw's missing directories are
 * created, a service's must exist. Returns 0, or -1 with errno. */
static int secret_step(const struct passwd *pw, secret_op op, const char *tmp,
                       const char *path, const char *password)
{
    pid_t pid;
    int status;

    if (!pw || getuid() == pw->pw_uid)
        return secret_do(op, tmp, path, password, pw != NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
            setuid(pw->pw_uid) != 0)
            _exit(126);
        if (secret_do(op, tmp, path, password, 1) != 0)
            _exit(errno ? errno : 1);
        _exit(0);
    }
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    errno = WIFEXITED(status) && WEXITSTATUS(status) != 126
                ? WEXITSTATUS(status)
                : EPERM;
    return -1;
}

/* protein admin rules user NAME | rules service: prints the Redis ACL rules
 * of that role (no connection made). Returns the exit status. */
static int admin_rules(int argc, char **argv)
{
    char rules[1024];
    pq_acl_role role;

    if (argc >= 2 && strcmp(argv[1], "service") == 0 && argc == 2)
        role = PQ_ACL_SERVICE;
    else if (argc == 3 && strcmp(argv[1], "user") == 0)
        role = PQ_ACL_USER;
    else
        return cli_usage_error(VERB,
                               "expected 'rules user NAME' or 'rules service' "
                               "(rules only prints them: no Redis options)");
    if (pq_acl_rules(role, role == PQ_ACL_USER ? argv[2] : NULL, rules,
                     sizeof(rules)) != PQ_OK)
        return cli_usage_error(VERB,
                               "'%s' is not a user name protein accepts "
                               "([a-z_][a-z0-9_.-]*, at most %d)",
                               argv[2], PQ_OWNER_MAX);
    printf("%s\n", rules);
    return CLI_OK;
}

/* Gives Redis user name (role) a new password, written first to
 * secret_file (as pw's user when pw is given: add-user), then set in
 * Redis, then moved into place; who names the file's owner in the
 * report. Returns the exit status. */
static int provision(pq_acl_role role, const char *name,
                     const char *secret_file, const char *who,
                     const struct passwd *pw, cli_redis_opts *r)
{
    char password[33], tmp[4096 + 32];
    struct passwd *owner;
    struct stat st;
    pq_context *ctx;
    int c, saved = 0;

    if (pq_acl_password(password) != PQ_OK)
        return cli_fail(VERB, "cannot make a password: %s", strerror(errno));
    if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", secret_file, (long)getpid()) >=
        (int)sizeof(tmp))
        return cli_usage_error(VERB, "the path %s is too long", secret_file);
    /* First the file, then Redis: a password that cannot be stored must
     * never replace the one in use. */
    if (secret_step(pw, SECRET_STAGE, tmp, secret_file, password) != 0) {
        const char *slash = strrchr(secret_file, '/');
        if (errno == ENOENT && !pw)
            return cli_fail(VERB,
                            "cannot write the password of Redis user %s: "
                            "directory %.*s does not exist (create it, e.g. "
                            "install -d -m 0700 %.*s, and run this again); "
                            "nothing was changed",
                            name, (int)(slash - secret_file), secret_file,
                            (int)(slash - secret_file), secret_file);
        return cli_fail(VERB,
                        "cannot write the new password of Redis user %s to "
                        "%s: %s; nothing was changed",
                        name, tmp, strerror(errno));
    }
    c = cli_connect(VERB, r, &ctx);
    if (c == CLI_OK &&
        pq_acl_provision(ctx, role, name, password, &saved) != PQ_OK)
        c = cli_fail(VERB, "cannot create Redis user %s: %s", name,
                     ctx->errstr);
    pq_free(ctx);
    if (c != CLI_OK) {
        if (secret_step(pw, SECRET_DISCARD, tmp, secret_file, password) != 0)
            fprintf(stderr, "protein %s: warning: cannot remove %s: %s\n", VERB,
                    tmp, strerror(errno));
        return c;
    }
    if (secret_step(pw, SECRET_COMMIT, tmp, secret_file, password) != 0)
        return cli_fail(VERB,
                        "Redis user %s has a new password, but it could not "
                        "be moved from %s to %s: %s (move it there by hand)",
                        name, tmp, secret_file, strerror(errno));
    if (!pw && stat(secret_file, &st) == 0 && (owner = getpwuid(st.st_uid)))
        who = owner->pw_name;
    printf("Redis user %s (%s): password in %s (mode 0600, %s's)\n", name,
           role == PQ_ACL_USER ? "their own sweeps" : "privileged service",
           secret_file, who);
    if (!saved)
        printf("note: Redis has no aclfile, so this user lasts until Redis "
               "restarts: set `aclfile` in redis.conf and run this again\n");
    return CLI_OK;
}

/* Contract in cli.h. */
int cmd_admin(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret-file", required_argument, NULL, 's'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    cli_redis_opts r = {0};
    char path[4096], *pwbuf = NULL;
    const char *what, *name, *secret_file = NULL, *who = "root";
    struct passwd user, *pw = NULL;
    pq_acl_role role;
    int c;

    if (argc >= 2 && strcmp(argv[1], "rules") == 0)
        return admin_rules(argc - 1, argv + 1);
    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        if (c != 's')
            return cli_option_other(VERB, c, argv);
        secret_file = optarg;
    }
    if (argc - optind != 2)
        return cli_usage_error(
            VERB, "expected add-user NAME, add-service NAME or rules");
    what = argv[optind];
    name = argv[optind + 1];
    if (strcmp(what, "add-user") == 0)
        role = PQ_ACL_USER;
    else if (strcmp(what, "add-service") == 0)
        role = PQ_ACL_SERVICE;
    else
        return cli_usage_error(
            VERB, "unknown action '%s' (add-user, add-service, rules)", what);
    if (!pq_acl_user_name_valid(name))
        return cli_usage_error(VERB,
                               "'%s' is not a user name protein accepts "
                               "([a-z_][a-z0-9_.-]*, at most %d)",
                               name, PQ_OWNER_MAX);
    /* ACL SETUSER resets a user that exists: this one would lose the
     * admin's rights and password to a person's or a service's */
    if (strcmp(name, "default") == 0)
        return cli_usage_error(VERB,
                               "'default' is Redis' own admin user, which "
                               "protein admin runs as: name the user or "
                               "service otherwise");
    if (role == PQ_ACL_USER) {
        if (secret_file)
            return cli_usage_error(
                VERB, "add-user writes the password into the user's home; "
                      "--secret-file is for add-service");
        /* pw decides whose rights write the file: its own copy, which no
         * later lookup (connecting makes one) overwrites. */
        pwbuf = pq_passwd_lookup(name, 0, &user);
        if (!pwbuf)
            return cli_fail(VERB,
                            "no Unix user '%s' on this host (its password file "
                            "goes into its home directory)",
                            name);
        pw = &user;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", pw->pw_dir,
                             PQ_USER_PASSWORD_FILE) >= sizeof(path)) {
            free(pwbuf);
            return cli_fail(VERB, "the home directory of '%s' is too long",
                            name);
        }
        secret_file = path;
        who = name;
    } else if (!secret_file || secret_file[0] != '/') {
        return cli_usage_error(VERB,
                               "add-service needs --secret-file /ABSOLUTE/PATH "
                               "for the service's password");
    }
    c = provision(role, name, secret_file, who, pw, &r);
    free(pwbuf);
    return c;
}
