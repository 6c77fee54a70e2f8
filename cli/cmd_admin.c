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
 *                      root's).
 *   rules user NAME | rules service
 *                      prints the ACL rules of a role (for users.acl).
 *
 * The connection must be the admin's (ACL SETUSER): --redis and
 * --password-file as for every verb.
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

/* Writes password and a newline to path (mode 0600, never through a
 * symlink), creating missing directories (mode 0700) when mkdirs. Returns
 * 0, or -1 with errno. */
static int write_secret(const char *path, const char *password, int mkdirs)
{
    char dir[4096];
    char line[64];
    char *slash;
    int fd, saved;
    ssize_t w;
    size_t len;

    if (mkdirs) {
        snprintf(dir, sizeof(dir), "%s", path);
        for (slash = strchr(dir + 1, '/'); slash;
             slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return -1;
            *slash = '/';
        }
    }
    fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) != 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    len = (size_t)snprintf(line, sizeof(line), "%s\n", password);
    w = write(fd, line, len);
    saved = errno;
    if (close(fd) != 0)
        return -1;
    if (w != (ssize_t)len) {
        errno = w < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

/* write_secret as user pw (a child process drops to pw's uid and gids
 * first), so that nothing in pw's home is written with root's rights. */
static int write_secret_as(const struct passwd *pw, const char *path,
                           const char *password)
{
    pid_t pid;
    int status;

    if (getuid() == pw->pw_uid)
        return write_secret(path, password, 1);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
            setuid(pw->pw_uid) != 0)
            _exit(126);
        _exit(write_secret(path, password, 1) == 0 ? 0 : errno ? errno : 1);
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
                               "expected 'rules user NAME' or 'rules service'");
    if (pq_acl_rules(role, role == PQ_ACL_USER ? argv[2] : NULL, rules,
                     sizeof(rules)) != PQ_OK)
        return cli_usage_error(VERB,
                               "'%s' is not a user name protein accepts "
                               "([a-z_][a-z0-9_.-]*, at most %d)",
                               argv[2], PQ_OWNER_MAX);
    printf("%s\n", rules);
    return CLI_OK;
}

int cmd_admin(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret-file", required_argument, NULL, 's'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    cli_redis_opts r = {0};
    char password[33], path[4096];
    const char *what, *name, *secret_file = NULL;
    struct passwd *pw = NULL;
    pq_acl_role role;
    pq_context *ctx;
    int c, saved = 0;

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
    if (role == PQ_ACL_USER) {
        if (secret_file)
            return cli_usage_error(
                VERB, "add-user writes the password into the user's home; "
                      "--secret-file is for add-service");
        pw = getpwnam(name);
        if (!pw)
            return cli_fail(VERB,
                            "no Unix user '%s' on this host (its password file "
                            "goes into its home directory)",
                            name);
        snprintf(path, sizeof(path), "%s/%s", pw->pw_dir,
                 PQ_USER_PASSWORD_FILE);
        secret_file = path;
    } else if (!secret_file || secret_file[0] != '/') {
        return cli_usage_error(VERB,
                               "add-service needs --secret-file /ABSOLUTE/PATH "
                               "for the service's password");
    }
    ctx = cli_connect(VERB, &r);
    if (!ctx)
        return CLI_EFAIL;
    if (pq_acl_provision(ctx, role, name, password, &saved) != PQ_OK) {
        c = cli_fail(VERB, "cannot create Redis user %s: %s", name,
                     ctx->errstr);
        pq_free(ctx);
        return c;
    }
    pq_free(ctx);
    if ((pw ? write_secret_as(pw, secret_file, password)
            : write_secret(secret_file, password, 0)) != 0)
        return cli_fail(VERB,
                        "Redis user %s exists, but its password could not be "
                        "written to %s: %s (run this again)",
                        name, secret_file, strerror(errno));
    printf("Redis user %s (%s): password in %s (mode 0600, %s's)\n", name,
           role == PQ_ACL_USER ? "their own sweeps" : "privileged service",
           secret_file, pw ? name : "root");
    if (!saved)
        printf("note: Redis has no aclfile, so this user lasts until Redis "
               "restarts: set `aclfile` in redis.conf and run this again\n");
    return CLI_OK;
}
