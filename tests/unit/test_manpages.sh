#!/bin/sh
# test_manpages.sh - the manual pages (man/) say what the programs do, and
# render without a warning. Every list is read from the programs or their
# sources, none is written here:
#   protein.1        a ".SS protein VERB" section for each verb that
#                    `protein --help` lists (and none for another verb),
#                    naming every long option `protein VERB --help` prints
#                    and giving it an entry (.TP), there or in REDIS
#                    OPTIONS; an option a verb's section tags is one of
#                    those;
#   proteind.8       its OPTIONS section has an entry (.TP) for every
#                    option of `proteind --help`'s option column, and for
#                    no other;
#   spank_protein.8  its PLUGSTACK ARGUMENTS section tags every key that
#                    plugin/args.c accepts (its KEY_IS tests) and
#                    docs/admin.md's table lists, and no other; its OPTIONS
#                    section the options plugin/options.c registers;
#   protein.1 and spank_protein.8: their TRIAL ENVIRONMENT sections name
#                    every variable queue/env.c sets for a trial;
#   each page names every variable its program's sources read by a literal
#                    name (getenv, cli_env, spank_getenv): protein.1 those
#                    of cli/, core/ and queue/, proteind.8 those of
#                    coordinator/, core/ and queue/, spank_protein.8 those
#                    of plugin/ and queue/;
#   each page:       `groff -man -ww -z` prints nothing (groff-base; the
#                    test skips, 77, when groff is missing and the rest
#                    passed).
# The pages are compared as their roff source with the font escapes and
# \- \& \% \: taken out, so hyphenation and line breaks play no part.
set -u
: "${top_srcdir:?run by make check}"
: "${top_builddir:?run by make check}"
protein=$top_builddir/cli/protein
proteind=$top_builddir/coordinator/proteind
man=$top_builddir/man
for f in "$protein" "$proteind" "$man/protein.1" "$man/proteind.8" \
    "$man/spank_protein.8"; do
    if [ ! -f "$f" ]; then
        echo "ERROR: $f is missing: run make first"
        exit 99
    fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_manpages.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0
checked=0

fail() {
    echo "FAIL: $*"
    failed=1
}

# plain PAGE: the page's roff source as text: no font escapes, \- as -.
plain() {
    sed -e 's/\\f[BIRP]//g' -e 's/\\f([A-Z][A-Z]//g' -e 's/\\-/-/g' \
        -e 's/\\&//g' -e 's/\\%//g' -e 's/\\://g' -e 's/\\e/\\/g' "$1"
}
plain "$man/protein.1" >"$tmp/protein.1"
plain "$man/proteind.8" >"$tmp/proteind.8"
plain "$man/spank_protein.8" >"$tmp/spank_protein.8"

# section FILE REGEX: the lines of FILE from the heading (.SH or .SS) that
# matches REGEX up to the next heading of the same or a higher level.
section() {
    awk -v re="$2" '
        started && /^\.SH/ { exit }
        started && level == "SS" && /^\.SS/ { exit }
        !started && $0 ~ re { started = 1; level = substr($1, 2); next }
        started { print }' "$1"
}

# tags TEXT-FILE: the tag lines of its .TP paragraphs.
tags() {
    awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' "$1"
}

# options: the options (-x, --xx) on standard input, one per line.
options() {
    grep -oE -- '(^|[][ ,"(|])--?[A-Za-z][A-Za-z0-9-]*' |
        sed 's/^[][ ,"(|]*//' | LC_ALL=C sort -u
}

# names FILE WORD: whether WORD occurs in FILE as a whole word (an option
# or a variable name, not a prefix of a longer one).
names() {
    grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$1"
}

# ------------------------------------------------------------ protein.1
verbs=$("$protein" --help | awk '/^verbs:/ { v = 1; next }
    v && /^$/ { exit } v { print $1 }')
[ -n "$verbs" ] || fail "protein --help lists no verbs (its format changed?)"
section "$tmp/protein.1" '^\.SH REDIS OPTIONS' | tags /dev/stdin | options \
    >"$tmp/redis-tags"
[ -s "$tmp/redis-tags" ] || fail "protein.1 has no section REDIS OPTIONS" \
    "with entries (.TP) for the options every Redis verb takes"
for verb in $verbs; do
    section "$tmp/protein.1" "^\\.SS \"?protein $verb\"?\$" >"$tmp/verb"
    if [ ! -s "$tmp/verb" ]; then
        fail "protein.1 has no section '.SS \"protein $verb\"' for the verb" \
            "$verb that protein --help lists"
        continue
    fi
    checked=$((checked + 1))
    "$protein" "$verb" --help | options | grep -- '^--' >"$tmp/help" ||
        true
    tags "$tmp/verb" | options >"$tmp/verb-tags"
    for opt in $(cat "$tmp/help"); do
        checked=$((checked + 1))
        names "$tmp/verb" "$opt" ||
            fail "protein.1, section protein $verb, does not name $opt," \
                "which protein $verb --help prints"
        grep -qxF -- "$opt" "$tmp/verb-tags" ||
            grep -qxF -- "$opt" "$tmp/redis-tags" ||
            fail "protein.1 has no entry (.TP) for $opt of protein $verb," \
                "neither in its section nor in REDIS OPTIONS"
    done
    for opt in $(cat "$tmp/verb-tags"); do
        checked=$((checked + 1))
        grep -qxF -- "$opt" "$tmp/help" ||
            fail "protein.1, section protein $verb, documents $opt, which" \
                "protein $verb --help does not print"
    done
done
for verb in $(sed -n 's/^\.SS "\{0,1\}protein \([a-z-]*\)"\{0,1\}$/\1/p' \
    "$tmp/protein.1"); do
    echo "$verbs" | grep -qxF "$verb" ||
        fail "protein.1 has a section for 'protein $verb', a verb that" \
            "protein --help does not list"
done

# ------------------------------------------------------------ proteind.8
"$proteind" --help | awk '/^  -/ { print $1; if ($1 ~ /,$/) print $2 }' |
    sed 's/,$//' | LC_ALL=C sort -u >"$tmp/help"
[ -s "$tmp/help" ] || fail "proteind --help lists no options (its format" \
    "changed?)"
section "$tmp/proteind.8" '^\.SH OPTIONS' | tags /dev/stdin | options \
    >"$tmp/opts"
for opt in $(cat "$tmp/help"); do
    checked=$((checked + 1))
    grep -qxF -- "$opt" "$tmp/opts" ||
        fail "proteind.8, section OPTIONS, has no entry (.TP) for $opt," \
            "which proteind --help prints"
done
for opt in $(cat "$tmp/opts"); do
    checked=$((checked + 1))
    grep -qxF -- "$opt" "$tmp/help" ||
        fail "proteind.8 documents $opt, which proteind --help does not print"
done

# ------------------------------------------------------------ spank_protein.8
sed -n 's/.*KEY_IS("\([a-z_]*\)").*/\1/p' "$top_srcdir/plugin/args.c" |
    LC_ALL=C sort -u >"$tmp/keys"
awk '/^## / { t = ($0 ~ /^## Plugstack arguments/); next }
    t && /^\| `[a-z_]+` \|/ { split($0, f, "`"); print f[2] }' \
    "$top_srcdir/docs/admin.md" | LC_ALL=C sort -u >"$tmp/admin-keys"
[ "$(wc -l <"$tmp/keys")" -ge 5 ] ||
    fail "found $(wc -l <"$tmp/keys") plugstack keys in plugin/args.c" \
        "(KEY_IS(\"key\")): its form changed?"
[ "$(wc -l <"$tmp/admin-keys")" -ge 5 ] ||
    fail "found $(wc -l <"$tmp/admin-keys") plugstack keys in" \
        "docs/admin.md's table under '## Plugstack arguments': moved?"
section "$tmp/spank_protein.8" '^\.SH PLUGSTACK ARGUMENTS' | tags /dev/stdin |
    sed -n 's/^\.[A-Z]* *"\{0,1\}\([a-z_]*\)=.*/\1/p' |
    LC_ALL=C sort -u >"$tmp/page-keys"
for key in $(LC_ALL=C sort -u "$tmp/keys" "$tmp/admin-keys"); do
    checked=$((checked + 1))
    grep -qxF "$key" "$tmp/page-keys" ||
        fail "spank_protein.8, section PLUGSTACK ARGUMENTS, has no entry" \
            "(.TP) for the key $key (plugin/args.c, docs/admin.md)"
done
for key in $(cat "$tmp/page-keys"); do
    checked=$((checked + 1))
    grep -qxF "$key" "$tmp/keys" ||
        fail "spank_protein.8 documents the plugstack key $key, which" \
            "plugin/args.c does not accept"
done
# the options: the name, the first string of each struct spank_option
awk '/struct spank_option [A-Za-z_]+ *=/ { s = 1 }
    s && /"/ { split($0, f, "\""); print f[2]; s = 0 }' \
    "$top_srcdir/plugin/options.c" | LC_ALL=C sort -u >"$tmp/spank-opts"
[ -s "$tmp/spank-opts" ] ||
    fail "found no struct spank_option in plugin/options.c: moved?"
section "$tmp/spank_protein.8" '^\.SH OPTIONS' >"$tmp/opts"
for opt in $(cat "$tmp/spank-opts"); do
    checked=$((checked + 1))
    tags "$tmp/opts" | grep -qE -- "(^|[ \"])--$opt([= ]|\$)" ||
        fail "spank_protein.8, section OPTIONS, has no entry (.TP) for" \
            "--$opt, which plugin/options.c registers"
done
for opt in $(tags "$tmp/opts" | options); do
    checked=$((checked + 1))
    grep -qxF -- "${opt#--}" "$tmp/spank-opts" ||
        fail "spank_protein.8 documents $opt, which plugin/options.c does" \
            "not register"
done

# ------------------------------------------------------------ variables
# a trial's environment: every env_add name, and the PROTEIN_PARAM_ prefix
{
    sed -n 's/.*env_add(out, "\([A-Z_]*\)".*/\1/p' "$top_srcdir/queue/env.c"
    sed -n 's/.*prefix\[\] = "\([A-Z_]*\)".*/\1/p' "$top_srcdir/queue/env.c"
} | LC_ALL=C sort -u >"$tmp/trial-env"
[ "$(wc -l <"$tmp/trial-env")" -ge 5 ] ||
    fail "found $(wc -l <"$tmp/trial-env") trial variables in queue/env.c" \
        "(env_add(out, \"NAME\"...)): its form changed?"
for page in protein.1 spank_protein.8; do
    section "$tmp/$page" '^\.SH TRIAL ENVIRONMENT' >"$tmp/env"
    for var in $(cat "$tmp/trial-env"); do
        checked=$((checked + 1))
        names "$tmp/env" "$var" ||
            fail "$page, section TRIAL ENVIRONMENT, does not name $var," \
                "which queue/env.c sets for each trial"
    done
done

# read_vars DIR...: the variables the C files of DIR... read by name.
read_vars() {
    for d in "$@"; do
        cat "$top_srcdir/$d"/*.c
    done | grep -oE '(getenv|cli_env)\([^"()]*"[A-Za-z_][A-Za-z0-9_]*"' |
        sed 's/.*"\(.*\)"/\1/' | LC_ALL=C sort -u
}
check_vars() { # check_vars PAGE DIR...
    page=$1
    shift
    vars=$(read_vars "$@")
    [ -n "$vars" ] || fail "no getenv in $*: moved?"
    for var in $vars; do
        checked=$((checked + 1))
        names "$tmp/$page" "$var" ||
            fail "$page does not name $var, which $* read(s)"
    done
}
check_vars protein.1 cli core queue
check_vars proteind.8 coordinator core queue
check_vars spank_protein.8 plugin queue

# ------------------------------------------------------------ rendering
render=checked
if command -v groff >/dev/null 2>&1; then
    for page in protein.1 proteind.8 spank_protein.8; do
        checked=$((checked + 1))
        out=$(LC_ALL=C groff -man -ww -z -Tutf8 "$man/$page" 2>&1)
        [ -z "$out" ] || fail "groff -man -ww warns about $page: $out"
    done
else
    render="not checked: groff not found (Debian: apt-get install groff-base)"
fi

echo "$checked checks of the manual pages; rendering $render"
[ "$failed" = 0 ] || exit 1
[ "$render" = checked ] || exit 77
exit 0
