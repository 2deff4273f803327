/*
 * test_conf.c - main.cf syntax, $name expansion, validation, unknown
 * parameters, conf_load(), and golden files
 *
 * Cases are tables of {label, input, want}; a failure prints the label.
 * Diagnostics are captured by pointing file descriptor 2 at a temporary
 * file for the duration of one call (msg.c writes plain
 * "test_conf: error: text" lines there); the program name is stripped.
 *
 * Golden files: tests/unit/global/data/conf-NAME.in is read as main.cf
 * (file name "main.cf"), and the report built by golden_report() must
 * equal conf-NAME.want. Set PETREL_UPDATE_GOLDEN=1 to rewrite the .want
 * files after a deliberate change (then review the diff).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "petrel_config.h"

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "params.h"

#define PROG	"test_conf"

/* Capture diagnostics, counting errors afresh. */
static void
diag_start(void)
{
	msg_error_reset();
	capture_start();
}

/* Append the captured lines to out, without the program name. */
static void
diag_end(struct buf *out)
{
	char *text = capture_end(), *line, *next;

	for (line = text; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			next++;
		if (strncmp(line, PROG ": ", strlen(PROG ": ")) == 0)
			line += strlen(PROG ": ");
		buf_append(out, line, (size_t)(next - line));
	}
	free(text);
}

/* "name=value@line\n" for every entry, in order. */
static void
format_entries(const struct conf *c, struct buf *out)
{
	const struct conf_entry *e;
	size_t i;

	for (i = 0; i < conf_count(c); i++) {
		e = conf_entry_at(c, i);
		buf_printf(out, "%s=%s@%d\n", e->name, e->value, e->line);
	}
}

static void
check_text(const char *label, const char *what, const char *got,
    const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s: %s:\n--- got ---\n%s--- want ---\n%s", label,
		    what, got, want);
}

/*
 * Syntax.
 */
struct syntax_case {
	const char *label;
	const char *text;
	int rc;
	const char *entries;
	const char *diag;
};

static const struct syntax_case syntax_cases[] = {
	{"empty", "", 0, "", ""},
	{"simple", "a = 1\nb=2\n", 0, "a=1@1\nb=2@2\n", ""},
	{"no final newline", "a = 1", 0, "a=1@1\n", ""},
	{"whitespace trimmed", "a   =  \t 1 x  \t\n", 0, "a=1 x@1\n", ""},
	{"empty value", "a =\nb=\t\n", 0, "a=@1\nb=@2\n", ""},
	{"equals in value", "a = b = c\n", 0, "a=b = c@1\n", ""},
	{"crlf", "a = 1\r\nb = 2\r\n", 0, "a=1@1\nb=2@2\n", ""},
	{"comments", "# top\na = 1 # kept\n   # indented comment\nb = 2\n", 0,
	    "a=1 # kept@2\nb=2@4\n", ""},
	{"blank lines", "\n\n  \t\na = 1\n\n", 0, "a=1@4\n", ""},
	{"continuation", "a = 1\n 2\n\t3   \n", 0, "a=1 2 3@1\n", ""},
	{"continuation of empty value", "a =\n  x\n", 0, "a=x@1\n", ""},
	{"continuation name", "a\n = 1\n", 0, "a=1@1\n", ""},
	{"comment inside continuation", "a = x\n# c\n y\n\n  # d\n z\n", 0,
	    "a=x y z@1\n", ""},
	{"later definition wins", "a = 1\nb = 2\na = 3\n", 0,
	    "a=3@3\nb=2@2\n", ""},
	{"digits and underscores", "_x9 = 1\n2bounce_notice_recipient = pm\n",
	    0, "_x9=1@1\n2bounce_notice_recipient=pm@2\n", ""},
	{"dollar kept raw", "a = $b ${c?d}\n", 0, "a=$b ${c?d}@1\n", ""},
	{"missing =", "foo bar\n", -1, "",
	    "error: main.cf, line 1: missing '=' after parameter name "
	    "\"foo bar\"\n"},
	{"missing = joined", "a = 1\n\n# x\nfoo\n bar\nb = 2\n", -1,
	    "a=1@1\nb=2@6\n",
	    "error: main.cf, line 4: missing '=' after parameter name "
	    "\"foo bar\"\n"},
	{"leading whitespace", " a = 1\n  b\nc = 2\n", -1, "c=2@3\n",
	    "error: main.cf, line 1: logical line must not start with "
	    "whitespace\n"},
	{"leading whitespace after comment", "# x\n\n\ta = 1\n", -1, "",
	    "error: main.cf, line 3: logical line must not start with "
	    "whitespace\n"},
	{"bad name", "a-b = 1\nok = 2\n", -1, "ok=2@2\n",
	    "error: main.cf, line 1: bad parameter name \"a-b\" (expected "
	    "letters, digits and _)\n"},
	{"name with space", "foo bar = 1\n", -1, "",
	    "error: main.cf, line 1: bad parameter name \"foo bar\" (expected "
	    "letters, digits and _)\n"},
	{"empty name", "= 1\n", -1, "",
	    "error: main.cf, line 1: missing parameter name before '='\n"},
	{"several errors", "x\na = 1\ny\n z\n= 2\n", -1, "a=1@2\n",
	    "error: main.cf, line 1: missing '=' after parameter name "
	    "\"x\"\n"
	    "error: main.cf, line 3: missing '=' after parameter name "
	    "\"y z\"\n"
	    "error: main.cf, line 5: missing parameter name before '='\n"},
};

static void
test_syntax(void **state)
{
	const struct syntax_case *tc;
	struct buf got, diag;
	struct conf *c;
	size_t i;
	int rc;

	(void)state;
	buf_init(&got, 256);
	buf_init(&diag, 256);
	for (i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
		tc = &syntax_cases[i];
		c = conf_new();
		buf_reset(&got);
		buf_reset(&diag);
		diag_start();
		errno = EINVAL;
		rc = conf_read_text(c, tc->text, "main.cf");
		diag_end(&diag);
		if (rc != tc->rc)
			fail_msg("%s: rc %d, want %d", tc->label, rc, tc->rc);
		if (rc < 0 && errno != 0)
			fail_msg("%s: errno %d after a syntax error",
			    tc->label, errno);
		format_entries(c, &got);
		check_text(tc->label, "entries", got.data, tc->entries);
		check_text(tc->label, "diagnostics", diag.data, tc->diag);
		conf_free(c);
	}
	buf_fini(&got);
	buf_fini(&diag);
}

static void
test_lookup_set(void **state)
{
	const struct conf_entry *e;
	struct conf *c = conf_new();

	(void)state;
	assert_int_equal(conf_read_text(c, "a = 1\nb = 2\n", "/x/main.cf"), 0);
	e = conf_lookup(c, "b");
	assert_non_null(e);
	assert_string_equal(e->file, "/x/main.cf");
	assert_int_equal(e->line, 2);
	assert_null(conf_lookup(c, "c"));
	assert_null(conf_entry_at(c, 2));
	/* Replacing a value with itself must not read freed memory. */
	conf_set(c, "a", conf_lookup(c, "a")->value, conf_lookup(c, "a")->file,
	    7);
	assert_string_equal(conf_lookup(c, "a")->value, "1");
	assert_int_equal(conf_lookup(c, "a")->line, 7);
	assert_int_equal(conf_set_override(c, " b = x y ", NULL, 0), 0);
	e = conf_lookup(c, "b");
	assert_string_equal(e->value, "x y");
	assert_string_equal(e->file, "command line");
	assert_int_equal(e->line, 0);
	assert_int_equal(conf_set_override(c, "c=", "command line", 0), 0);
	assert_string_equal(conf_lookup(c, "c")->value, "");
	assert_int_equal(conf_set_override(c, "novalue", NULL, 0), -1);
	assert_int_equal(conf_set_override(c, "=x", NULL, 0), -1);
	assert_int_equal(conf_set_override(c, "a b=x", NULL, 0), -1);
	assert_int_equal(conf_count(c), 3);
	assert_string_equal(conf_entry_at(c, 0)->name, "a");
	assert_string_equal(conf_entry_at(c, 2)->name, "c");
	/* conf_raw: entry, else default, else NULL. */
	assert_string_equal(conf_raw(c, "a"), "1");
	assert_string_equal(conf_raw(c, "max_use"), "100");
	assert_string_equal(conf_raw(c, "myorigin"), "$myhostname");
	assert_null(conf_raw(c, "nonesuch"));
	assert_string_equal(conf_raw(c, "mydomain"),
	    param_default(param_find("mydomain")));
	conf_free(c);
	conf_free(NULL);
}

/* mydomain follows a configured myhostname, in conf_raw() as in eval. */
static void
test_mydomain_raw(void **state)
{
	struct conf *c = conf_new();
	struct buf out, why;

	(void)state;
	buf_init(&out, 64);
	buf_init(&why, 64);
	conf_set(c, "myhostname", "mx.$d", "main.cf", 1);
	conf_set(c, "d", "example.org", "main.cf", 2);
	assert_string_equal(conf_raw(c, "mydomain"), "example.org");
	conf_set(c, "d", "a$$b", "main.cf", 2);
	assert_string_equal(conf_raw(c, "mydomain"), "a$$b");
	assert_int_equal(conf_expand(c, conf_raw(c, "mydomain"), &out, &why),
	    0);
	assert_string_equal(out.data, "a$b");
	buf_reset(&out);
	assert_int_equal(conf_eval(c, "mydomain", &out, &why), 0);
	assert_string_equal(out.data, "a$b");
	conf_set(c, "myhostname", "$myhostname", "main.cf", 1);
	assert_string_equal(conf_raw(c, "mydomain"),
	    param_default(param_find("mydomain")));
	conf_set(c, "mydomain", "set.example", "main.cf", 3);
	assert_string_equal(conf_raw(c, "mydomain"), "set.example");
	conf_free(c);
	buf_fini(&out);
	buf_fini(&why);
}

/*
 * Expansion.
 */
#define EXP_BASE \
	"a = A\n" \
	"b = $a\n" \
	"empty =\n" \
	"spaces = ${empty}\n" \
	"c = ${b}-$(a)\n" \
	"loop1 = $loop2\n" \
	"loop2 = $loop1\n" \
	"self = x$self\n" \
	"unb = ${a\n" \
	"cond = ${a?${b}+${empty:E}}\n" \
	"three1 = $three2\n" \
	"three2 = ${x:$three3}\n" \
	"three3 = [$three1]\n"

struct expand_case {
	const char *label;
	const char *conf;	/* main.cf text; NULL = EXP_BASE */
	const char *input;
	int rc;
	const char *want;	/* output, or why when rc is -1 */
};

static const struct expand_case expand_cases[] = {
	{"plain text", NULL, "hello world", 0, "hello world"},
	{"$name", NULL, "$a", 0, "A"},
	{"${name}", NULL, "${a}", 0, "A"},
	{"$(name)", NULL, "$(a)", 0, "A"},
	{"name ends at non-name char", NULL, "x$a.y-$a/$a", 0, "xA.y-A/A"},
	{"adjacent", NULL, "$a$a${a}$(a)", 0, "AAAA"},
	{"name with digits", NULL, "$a1", 0, ""},
	{"nested", NULL, "$b", 0, "A"},
	{"nested forms", NULL, "$c", 0, "A-A"},
	{"undefined", NULL, "[$undef]", 0, "[]"},
	{"undefined braces", NULL, "[${undef}$(undef)]", 0, "[]"},
	{"? set", NULL, "${a?yes}", 0, "yes"},
	{"? empty", NULL, "[${empty?yes}]", 0, "[]"},
	{"? empty by expansion", NULL, "[${spaces?yes}]", 0, "[]"},
	{"? undefined", NULL, "[${undef?yes}]", 0, "[]"},
	{": set", NULL, "[${a:no}]", 0, "[]"},
	{": empty", NULL, "${empty:no}", 0, "no"},
	{": undefined", NULL, "${undef:no}", 0, "no"},
	{"? in parens", NULL, "$(a?yes)$(undef:no)", 0, "yesno"},
	{"? text expanded", NULL, "${a?<$b>}", 0, "<A>"},
	{"? text nested braces", NULL, "${a?${b}x}", 0, "Ax"},
	{"? text deeply nested", NULL, "${empty:${a?[${b:z}$(c)]}}", 0,
	    "[A-A]"},
	{"? text empty", NULL, "[${a?}]", 0, "[]"},
	{"? text with colon", NULL, "${a?x:y}", 0, "x:y"},
	{"conditional in value", NULL, "$cond", 0, "A+E"},
	{"$$", NULL, "$$", 0, "$"},
	{"$$name", NULL, "$$a", 0, "$a"},
	{"$$$name", NULL, "$$$a", 0, "$A"},
	{"lone $ at end", NULL, "a$", 0, "a$"},
	{"$ before space", NULL, "$ x", 0, "$ x"},
	{"$ before punctuation", NULL, "$-$.", 0, "$-$."},
	{"stray close brace", NULL, "${a}}", 0, "A}"},
	{"loop", NULL, "$loop1", -1, "recursion loop: $loop1 -> $loop2 -> "
	    "$loop1"},
	{"self loop", NULL, "${self}", -1, "recursion loop: $self -> $self"},
	{"loop through conditional", NULL, "x$three1", -1,
	    "recursion loop: $three1 -> $three2 -> $three3 -> $three1"},
	{"unbalanced {", NULL, "x${a", -1, "unbalanced '{' in \"${a\""},
	{"unbalanced (", NULL, "$(a", -1, "unbalanced '(' in \"$(a\""},
	{"unbalanced nested", NULL, "${a?${b}", -1,
	    "unbalanced '{' in \"${a?${b}\""},
	{"unbalanced in a value", NULL, "$unb", -1,
	    "unbalanced '{' in \"${a\""},
	{"empty name", NULL, "${}", -1, "bad parameter name in \"${}\""},
	{"empty name ?", NULL, "${?x}", -1, "bad parameter name in \"${?x}\""},
	{"space in name", NULL, "${a b}", -1,
	    "bad parameter name in \"${a b}\""},
	{"bad char in name", NULL, "$(a-b)", -1,
	    "bad parameter name in \"$(a-b)\""},
	{"default used", "", "$mail_name", 0, "Petrel"},
	{"default refers to set value", "myhostname = h.example.com\n"
	    "mydomain = example.com\n", "$mydestination", 0,
	    "h.example.com, localhost.example.com, localhost"},
	{"mydomain follows myhostname", "myhostname = mx.example.org\n",
	    "$mydomain", 0, "example.org"},
	{"mydomain follows expanded myhostname",
	    "myhostname = mx.$d\nd = b.c\n", "$mydomain", 0, "b.c"},
	{"mydomain of a short myhostname", "myhostname = box\n", "$mydomain",
	    0, "localdomain"},
	{"mydomain set wins", "myhostname = mx.example.org\nmydomain = x.y\n",
	    "$mydomain", 0, "x.y"},
	{"mydomain loop", "myhostname = $mydomain\n", "$mydomain", -1,
	    "recursion loop: $mydomain -> $myhostname -> $mydomain"},
};

static void
test_expand(void **state)
{
	const struct expand_case *tc;
	struct buf out, why;
	struct conf *c;
	size_t i;
	int rc;

	(void)state;
	buf_init(&out, 256);
	buf_init(&why, 256);
	for (i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		tc = &expand_cases[i];
		c = conf_new();
		if (conf_read_text(c, tc->conf ? tc->conf : EXP_BASE,
			"main.cf") < 0)
			fail_msg("%s: bad test configuration", tc->label);
		buf_set(&out, "pre:");
		buf_reset(&why);
		rc = conf_expand(c, tc->input, &out, &why);
		if (rc != tc->rc)
			fail_msg("%s: rc %d, want %d (out \"%s\", why \"%s\")",
			    tc->label, rc, tc->rc, out.data, why.data);
		if (rc == 0) {
			check_text(tc->label, "output", out.data + 4,
			    tc->want);
			assert_memory_equal(out.data, "pre:", 4);
		} else {
			check_text(tc->label, "why", why.data, tc->want);
			/* A failed expansion appends nothing. */
			check_text(tc->label, "output", out.data, "pre:");
		}
		/* A second run, now from the memo, gives the same answer. */
		buf_set(&out, "pre:");
		buf_reset(&why);
		assert_int_equal(conf_expand(c, tc->input, &out, &why), rc);
		check_text(tc->label, "second run",
		    rc == 0 ? out.data + 4 : why.data, tc->want);
		conf_free(c);
	}
	buf_fini(&out);
	buf_fini(&why);
}

static void
test_eval(void **state)
{
	struct conf *c = conf_new();
	struct buf out, why;

	(void)state;
	buf_init(&out, 64);
	buf_init(&why, 64);
	assert_int_equal(conf_read_text(c, EXP_BASE, "main.cf"), 0);
	assert_int_equal(conf_eval(c, "c", &out, &why), 0);
	assert_string_equal(out.data, "A-A");
	buf_reset(&out);
	assert_int_equal(conf_eval(c, "nonesuch", &out, &why), 0);
	assert_string_equal(out.data, "");
	assert_int_equal(conf_eval(c, "loop2", &out, &why), -1);
	assert_string_equal(why.data,
	    "recursion loop: $loop2 -> $loop1 -> $loop2");
	buf_reset(&out);
	assert_int_equal(conf_eval(c, "max_use", &out, &why), 0);
	assert_string_equal(out.data, "100");
	/* conf_set() forgets expansions made before it. */
	buf_reset(&out);
	assert_int_equal(conf_eval(c, "b", &out, &why), 0);
	assert_string_equal(out.data, "A");
	conf_set(c, "a", "changed", "command line", 0);
	buf_reset(&out);
	assert_int_equal(conf_eval(c, "b", &out, &why), 0);
	assert_string_equal(out.data, "changed");
	conf_free(c);
	buf_fini(&out);
	buf_fini(&why);
}

/* A chain of n parameters d0 = $d1 ... d(n-1) = end. */
static struct conf *
make_chain(int n)
{
	struct conf *c = conf_new();
	struct buf name, value;
	int i;

	buf_init(&name, 16);
	buf_init(&value, 16);
	for (i = 0; i < n; i++) {
		buf_reset(&name);
		buf_reset(&value);
		buf_printf(&name, "d%d", i);
		if (i + 1 < n)
			buf_printf(&value, "$d%d", i + 1);
		else
			buf_puts(&value, "end");
		conf_set(c, name.data, value.data, "main.cf", i + 1);
	}
	buf_fini(&name);
	buf_fini(&value);
	return c;
}

static void
test_expand_limits(void **state)
{
	struct buf out, why, name, value;
	struct conf *c;
	clock_t t0;
	int i;

	(void)state;
	buf_init(&out, 64);
	buf_init(&why, 64);
	buf_init(&name, 16);
	buf_init(&value, 16);

	/* A chain as deep as the limit allows, and one level more. */
	c = make_chain(CONF_EXPAND_DEPTH);
	assert_int_equal(conf_expand(c, "$d0", &out, &why), 0);
	assert_string_equal(out.data, "end");
	conf_free(c);
	c = make_chain(CONF_EXPAND_DEPTH + 50);
	buf_reset(&out);
	assert_int_equal(conf_expand(c, "$d0", &out, &why), -1);
	assert_string_equal(why.data,
	    "expansion nested deeper than 100 levels at $d100");
	conf_free(c);

	/* Conditionals nest too, and are bounded the same way. */
	c = conf_new();
	buf_reset(&value);
	for (i = 0; i < 2 * CONF_EXPAND_DEPTH; i++)
		buf_puts(&value, "${a?");
	for (i = 0; i < 2 * CONF_EXPAND_DEPTH; i++)
		buf_putc(&value, '}');
	conf_set(c, "a", "x", "main.cf", 1);
	buf_reset(&why);
	assert_int_equal(conf_expand(c, value.data, &out, &why), -1);
	assert_string_equal(why.data,
	    "expansion nested deeper than 100 levels");
	conf_free(c);

	/*
	 * e0 = $e1$e1, e1 = $e2$e2, ...: memoized expansion does linear
	 * work per name; the result size is bounded.
	 */
	c = conf_new();
	for (i = 0; i < 60; i++) {
		buf_reset(&name);
		buf_reset(&value);
		buf_printf(&name, "e%d", i);
		buf_printf(&value, "$e%d${e%d}", i + 1, i + 1);
		conf_set(c, name.data, value.data, "main.cf", i + 1);
	}
	conf_set(c, "e60", "x", "main.cf", 61);
	t0 = clock();
	buf_reset(&out);
	buf_reset(&why);
	assert_int_equal(conf_expand(c, "$e40", &out, &why), 0);
	assert_int_equal(out.len, 1 << 20);
	buf_reset(&out);
	assert_int_equal(conf_expand(c, "$e0", &out, &why), -1);
	assert_string_equal(why.data,
	    "expanded value is longer than 4194304 bytes");
	assert_int_equal(out.len, 0);
	if (clock() - t0 > 5 * CLOCKS_PER_SEC)
		fail_msg("exponential expansion took %.1fs",
		    (double)(clock() - t0) / CLOCKS_PER_SEC);
	conf_free(c);

	/*
	 * Many parameters sharing one long chain (one level less, for the
	 * w parameter itself): linear, not quadratic.
	 */
	c = make_chain(CONF_EXPAND_DEPTH - 1);
	for (i = 0; i < 20000; i++) {
		buf_reset(&name);
		buf_printf(&name, "w%d", i);
		conf_set(c, name.data, "$d0 $d1 $d2", "main.cf", 1000 + i);
	}
	t0 = clock();
	for (i = 0; i < 20000; i++) {
		buf_reset(&name);
		buf_reset(&out);
		buf_printf(&name, "w%d", i);
		assert_int_equal(conf_eval(c, name.data, &out, &why), 0);
	}
	assert_string_equal(out.data, "end end end");
	if (clock() - t0 > 5 * CLOCKS_PER_SEC)
		fail_msg("wide expansion took %.1fs",
		    (double)(clock() - t0) / CLOCKS_PER_SEC);
	conf_free(c);

	buf_fini(&out);
	buf_fini(&why);
	buf_fini(&name);
	buf_fini(&value);
}

/*
 * Validation.
 */
struct validate_case {
	const char *label;
	const char *text;
	const char *override;	/* "name=value" on the command line */
	int errors;
	const char *diag;
};

#define MAX_USE_WHY	"bad value \"x\" (expected integer 1..1000000000)"

static const struct validate_case validate_cases[] = {
	{"all defaults", "", NULL, 0, ""},
	{"good values", "max_use = 5\nmax_idle = 2m\nmessage_size_limit = 0\n"
	    "myhostname = a.b\n", "daemon_timeout=1h", 0, ""},
	{"bad int", "# c\n\nmax_use = x\n", NULL, 1,
	    "error: main.cf, line 3: parameter max_use: " MAX_USE_WHY "\n"},
	{"bad value through $", "\n\nmax_use = $foo\nfoo = 0\n", NULL, 1,
	    "error: main.cf, line 3: parameter max_use: bad value \"0\" "
	    "(expected integer 1..1000000000)\n"},
	{"later line wins", "max_use = 1\nmax_use = x\n", NULL, 1,
	    "error: main.cf, line 2: parameter max_use: " MAX_USE_WHY "\n"},
	{"continued value", "max_use =\n 1\n 2\n", NULL, 1,
	    "error: main.cf, line 1: parameter max_use: bad value \"1 2\" "
	    "(expected integer 1..1000000000)\n"},
	{"command line", "max_idle = 5\n", "max_idle=5x", 1,
	    "error: command line: parameter max_idle: bad value \"5x\" "
	    "(expected time 1s..1000d)\n"},
	{"several, in table order", "syslog_name = x\nmax_use = 0\n"
	    "ipc_timeout = 0\n", NULL, 2,
	    "error: main.cf, line 3: parameter ipc_timeout: bad value \"0\" "
	    "(expected time 1s..1000d)\n"
	    "error: main.cf, line 2: parameter max_use: bad value \"0\" "
	    "(expected integer 1..1000000000)\n"},
	{"loop", "myorigin = $mydestination\nmydestination = x $myorigin\n",
	    NULL, 3,
	    "error: main.cf, line 2: parameter mydestination: recursion loop: "
	    "$mydestination -> $myorigin -> $mydestination\n"
	    "error: main.cf, line 1: parameter myorigin: recursion loop: "
	    "$myorigin -> $mydestination -> $myorigin\n"
	    "error: default: parameter proxy_read_maps: recursion loop: "
	    "$mydestination -> $myorigin -> $mydestination\n"},
	{"loop through defaults", "myhostname = $myorigin\n", NULL, 7,
	    "error: default: parameter local_transport: recursion loop: "
	    "$myhostname -> $myorigin -> $myhostname\n"
	    "error: default: parameter mydestination: recursion loop: "
	    "$myhostname -> $myorigin -> $myhostname\n"
	    "error: default: parameter mydomain: recursion loop: "
	    "$myhostname -> $myorigin -> $myhostname\n"
	    "error: main.cf, line 1: parameter myhostname: recursion loop: "
	    "$myhostname -> $myorigin -> $myhostname\n"
	    "error: default: parameter myorigin: recursion loop: "
	    "$myorigin -> $myhostname -> $myorigin\n"
	    "error: default: parameter proxy_read_maps: recursion loop: "
	    "$myhostname -> $myorigin -> $myhostname\n"
	    "error: default: parameter smtpd_banner: recursion loop: "
	    "$myhostname -> $myorigin -> $myhostname\n"},
	{"unbalanced", "\nhash_queue_names = ${x\n", NULL, 1,
	    "error: main.cf, line 2: parameter hash_queue_names: "
	    "unbalanced '{' in \"${x\"\n"},
	{"unknown ones are not validated", "foo = ${\nbar = $bar\n", NULL, 0,
	    ""},
};

static void
test_validate(void **state)
{
	const struct validate_case *tc;
	struct buf diag;
	struct conf *c;
	size_t i;
	int errors;

	(void)state;
	buf_init(&diag, 256);
	for (i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]);
	    i++) {
		tc = &validate_cases[i];
		c = conf_new();
		if (conf_read_text(c, tc->text, "main.cf") < 0)
			fail_msg("%s: bad test configuration", tc->label);
		if (tc->override != NULL
		    && conf_set_override(c, tc->override, "command line",
			0) < 0)
			fail_msg("%s: bad override", tc->label);
		buf_reset(&diag);
		param_init_defaults();
		var_max_use = 12345;
		diag_start();
		errors = conf_validate(c, true);
		diag_end(&diag);
		if (errors != tc->errors)
			fail_msg("%s: %d errors, want %d:\n%s", tc->label,
			    errors, tc->errors, diag.data);
		check_text(tc->label, "diagnostics", diag.data, tc->diag);
		/* All or nothing: a bad configuration stores no value. */
		if (errors > 0 && var_max_use != 12345)
			fail_msg("%s: stored values despite errors",
			    tc->label);
		if (errors == 0 && var_max_use == 12345)
			fail_msg("%s: values not stored", tc->label);
		conf_free(c);
	}
	buf_fini(&diag);
}

static void
test_validate_store(void **state)
{
	struct conf *c = conf_new();

	(void)state;
	assert_int_equal(conf_read_text(c,
	    "max_use = 7\nmax_idle = 2m\nmessage_size_limit = 0\n"
	    "myhostname = mx.example.com\nmail_name = $mail_x\n"
	    "mail_x = Mail $$1\n", "main.cf"), 0);
	param_init_defaults();
	assert_int_equal(conf_validate(c, false), 0);
	assert_int_equal(var_max_use, 100);	/* not stored */
	assert_int_equal(conf_validate(c, true), 0);
	assert_int_equal(var_max_use, 7);
	assert_int_equal(var_max_idle, 120);
	assert_int_equal(var_daemon_timeout, 18000);
	assert_true(var_message_size_limit == 0);
	assert_string_equal(var_myhostname, "mx.example.com");
	assert_string_equal(var_mydomain, "example.com");
	assert_string_equal(var_myorigin, "mx.example.com");
	assert_string_equal(var_mydestination,
	    "mx.example.com, localhost.example.com, localhost");
	assert_string_equal(var_mail_name, "Mail $1");
	conf_free(c);
	param_init_defaults();
}

/*
 * Unknown parameters.
 */
struct unknown_case {
	const char *label;
	const char *text;
	const char *extra;	/* master.cf -o values, "|"-separated */
	bool as_error;
	int count;
	const char *diag;
};

static const struct unknown_case unknown_cases[] = {
	{"none", "max_use = 5\nmyorigin = $mydomain\n", NULL, false, 0, ""},
	{"unused", "max_use = 5\nfoo = 1\n", NULL, false, 1,
	    "warning: main.cf, line 2: unused parameter: foo=1\n"},
	{"as error", "\nfoo = 1 2\n", NULL, true, 1,
	    "error: main.cf, line 2: unused parameter: foo=1 2\n"},
	{"referenced in every form",
	    "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n"
	    "mail_name = $a ${b} $(c) ${d?x} $(e:y) ${x?$f}\n",
	    NULL, false, 0, ""},
	{"reference from an unknown one", "foo = 1\nbar = $foo\n", NULL, false,
	    1, "warning: main.cf, line 2: unused parameter: bar=$foo\n"},
	{"$$ is not a reference", "a = $$foo\nfoo = 1\n", NULL, false, 2,
	    "warning: main.cf, line 1: unused parameter: a=$$foo\n"
	    "warning: main.cf, line 2: unused parameter: foo=1\n"},
	{"referenced from master.cf", "zip = 1\nzap = 2\nzop = 3\n",
	    "$zip|x ${zop:y}", false, 1,
	    "warning: main.cf, line 2: unused parameter: zap=2\n"},
	/*
	 * Postfix parameters that Petrel lacks: refused, unless they ask
	 * for nothing (empty where Postfix's default is empty; documentation
	 * and program paths; biff).
	 */
	{"Postfix's, asking for nothing",
	    "biff = no\nreadme_directory = no\nhtml_directory = /x\n"
	    "relayhost =\ncontent_filter =  \nsmtpd_tls_cert_file =\n",
	    NULL, true, 0, ""},
	{"Postfix's, asking for something",
	    "relayhost = [smtp.example.com]\ncontent_filter = smtp:x\n"
	    "authorized_submit_users =\n", NULL, true, 3,
	    "error: main.cf, line 1: relayhost=[smtp.example.com]: Postfix "
	    "parameter that Petrel does not implement (yet)\n"
	    "error: main.cf, line 2: content_filter=smtp:x: Postfix "
	    "parameter that Petrel does not implement (yet)\n"
	    "error: main.cf, line 3: authorized_submit_users=: Postfix "
	    "parameter that Petrel does not implement (yet)\n"},
	{"reported in file order", "z = 1\na = 2\nm = 3\n", NULL, false, 3,
	    "warning: main.cf, line 1: unused parameter: z=1\n"
	    "warning: main.cf, line 2: unused parameter: a=2\n"
	    "warning: main.cf, line 3: unused parameter: m=3\n"},
};

static void
test_unknown(void **state)
{
	const struct unknown_case *tc;
	struct argv *extra;
	struct buf diag;
	struct conf *c;
	size_t i;
	int count;

	(void)state;
	buf_init(&diag, 256);
	for (i = 0; i < sizeof(unknown_cases) / sizeof(unknown_cases[0]);
	    i++) {
		tc = &unknown_cases[i];
		c = conf_new();
		if (conf_read_text(c, tc->text, "main.cf") < 0)
			fail_msg("%s: bad test configuration", tc->label);
		extra = tc->extra ? argv_split(tc->extra, "|") : NULL;
		buf_reset(&diag);
		diag_start();
		count = conf_check_unknown(c, tc->as_error, extra, NULL);
		diag_end(&diag);
		if (count != tc->count)
			fail_msg("%s: %d reported, want %d", tc->label, count,
			    tc->count);
		check_text(tc->label, "diagnostics", diag.data, tc->diag);
		argv_free(extra);
		conf_free(c);
	}
	/* Per-transport parameters of master.cf services are known. */
	c = conf_new();
	assert_int_equal(conf_read_text(c,
	    "relay_destination_concurrency_limit = 3\n"
	    "local_destination_recipient_limit = 1\n"
	    "relay_initial_destination_concurrency = 2\n"
	    "relay_destination_bogus_limit = 1\n"
	    "smtp_destination_concurrency_limit = 4\n", "main.cf"), 0);
	extra = argv_split("relay local", " ");
	buf_reset(&diag);
	diag_start();
	assert_int_equal(conf_check_unknown(c, false, NULL, extra), 2);
	diag_end(&diag);
	assert_non_null(strstr(diag.data, "relay_destination_bogus_limit"));
	assert_non_null(strstr(diag.data, "smtp_destination_concurrency"));
	argv_free(extra);
	conf_free(c);

	/* A command-line entry is named as such. */
	c = conf_new();
	assert_int_equal(conf_set_override(c, "bogus=1", "command line", 0), 0);
	buf_reset(&diag);
	diag_start();
	assert_int_equal(conf_check_unknown(c, false, NULL, NULL), 1);
	diag_end(&diag);
	assert_string_equal(diag.data,
	    "warning: command line: unused parameter: bogus=1\n");
	conf_free(c);
	buf_fini(&diag);
}

/*
 * -o overrides, as one master.cf service sees them (mastercf_check_conf()
 * in test_mastercf.c covers the names; these cover what conf.c alone
 * promises).
 */
static void
test_check_overrides(void **state)
{
	struct conf *c = conf_new();
	struct argv *ov, *services;
	struct buf diag;

	(void)state;
	buf_init(&diag, 256);
	assert_int_equal(conf_read_text(c, "max_use = 5\n"
	    "mydestination = $dests\ndests = localhost\n", "main.cf"), 0);

	/* No overrides: nothing is checked, nothing is said. */
	diag_start();
	assert_int_equal(conf_check_overrides(c, NULL, "here", NULL), 0);
	ov = argv_new();
	assert_int_equal(conf_check_overrides(c, ov, "here", NULL), 0);
	diag_end(&diag);
	assert_string_equal(diag.data, "");

	/* Values and names; main.cf's own entries are not reported. */
	argv_add(ov, "max_use=0");
	argv_add(ov, "dests=example.com");
	argv_add(ov, " nosuch = 1");
	argv_add(ov, "novalue");
	argv_add(ov, "smtp_destination_concurrency_limit=3");
	argv_add(ov, "relayhost=");
	services = argv_split("smtp", " ");
	diag_start();
	assert_int_equal(conf_check_overrides(c, ov, "master.cf, line 9: "
	    "service x/unix", services), 3);
	diag_end(&diag);
	assert_string_equal(diag.data,
	    "error: master.cf, line 9: service x/unix: bad override "
	    "\"-o novalue\" (expected name=value)\n"
	    "error: master.cf, line 9: service x/unix: -o max_use=0: "
	    "parameter max_use: bad value \"0\" (expected integer "
	    "1..1000000000)\n"
	    "error: master.cf, line 9: service x/unix: -o  nosuch = 1: "
	    "unknown parameter nosuch (and no value refers to $nosuch)\n");
	argv_free(services);
	argv_free(ov);

	/* c itself is untouched. */
	assert_int_equal(conf_lookup(c, "max_use")->line, 1);
	assert_null(conf_lookup(c, "nosuch"));
	buf_reset(&diag);
	diag_start();
	assert_int_equal(conf_validate(c, false), 0);
	diag_end(&diag);
	assert_string_equal(diag.data, "");
	conf_free(c);
	buf_fini(&diag);
}

static void
test_where_name(void **state)
{
	struct conf *c = conf_new();
	struct buf out;

	(void)state;
	buf_init(&out, 64);
	assert_int_equal(conf_read_text(c, "\nmax_use = 5\n", "/etc/main.cf"),
	    0);
	assert_int_equal(conf_set_override(c, "max_idle=1", "command line", 0),
	    0);
	assert_true(conf_where_name(c, "max_use", &out));
	assert_string_equal(out.data, "/etc/main.cf, line 2");
	buf_reset(&out);
	assert_true(conf_where_name(c, "max_idle", &out));
	assert_string_equal(out.data, "command line");
	buf_reset(&out);
	assert_false(conf_where_name(c, "queue_directory", &out));
	assert_false(conf_where_name(NULL, "max_use", &out));
	assert_string_equal(out.data, "");
	conf_free(c);
	buf_fini(&out);
}

/*
 * conf_load() and friends, on a real directory.
 */
static char *
make_dir(const char *main_cf)
{
	char tmpl[] = "/tmp/test_conf.XXXXXX";
	struct buf path;
	char *dir;

	assert_non_null(mkdtemp(tmpl));
	dir = xstrdup(tmpl);
	if (main_cf != NULL) {
		buf_init(&path, 64);
		buf_printf(&path, "%s/main.cf", dir);
		assert_int_equal(file_write_atomic(path.data, main_cf,
		    strlen(main_cf), 0644), 0);
		buf_fini(&path);
	}
	return dir;
}

static void
remove_dir(char *dir)
{
	struct buf path;

	buf_init(&path, 64);
	buf_printf(&path, "%s/main.cf", dir);
	(void)unlink(path.data);
	assert_int_equal(rmdir(dir), 0);
	buf_fini(&path);
	free(dir);
}

/*
 * myorigin = /etc/mailname (Debian's Postfix): the first line of the
 * file, trimmed; an unreadable or blank file is an error naming both.
 */
static void
test_myorigin_file(void **state)
{
	static const struct {
		const char *label;
		const char *file;	/* NULL: no such file */
		const char *want;	/* NULL: error */
		const char *diag;
	} cases[] = {
		{"first line, trimmed", "  mail.example.net \t\nother\n",
		    "mail.example.net", ""},
		{"no newline", "example.org", "example.org", ""},
		{"blank", " \t \n\n", NULL,
		    "error: main.cf, line 1: parameter myorigin: %s: no domain "
		    "name on the first line\n"},
		{"missing", NULL, NULL,
		    "error: main.cf, line 1: parameter myorigin: %s: No such "
		    "file or directory\n"},
	};
	char *dir = make_dir(NULL);
	struct buf path, text, diag, want;
	struct conf *c;
	size_t i;

	(void)state;
	buf_init(&path, 64);
	buf_init(&text, 64);
	buf_init(&diag, 128);
	buf_init(&want, 128);
	buf_printf(&path, "%s/main.cf", dir);	/* removed by remove_dir() */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)unlink(path.data);
		if (cases[i].file != NULL)
			assert_int_equal(file_write_atomic(path.data,
			    cases[i].file, strlen(cases[i].file), 0644), 0);
		buf_reset(&text);
		buf_printf(&text, "myorigin = %s\n", path.data);
		c = conf_new();
		assert_int_equal(conf_read_text(c, text.data, "main.cf"), 0);
		param_init_defaults();
		buf_reset(&diag);
		diag_start();
		if (conf_validate(c, true) != (cases[i].want ? 0 : 1))
			fail_msg("case \"%s\": wrong error count",
			    cases[i].label);
		diag_end(&diag);
		buf_reset(&want);
		buf_printf(&want, cases[i].diag, path.data);
		CHECK_STR(diag.data, want.data, cases[i].label);
		if (cases[i].want != NULL)
			CHECK_STR(var_myorigin, cases[i].want, cases[i].label);
		conf_free(c);
	}
	param_init_defaults();
	buf_fini(&path);
	buf_fini(&text);
	buf_fini(&diag);
	buf_fini(&want);
	remove_dir(dir);
}

static void
test_load(void **state)
{
	char *dir = make_dir("max_use = 42\nmyhostname = h.example.org\n"
	    "mail_name = $config_directory\nconfig_directory = /ignored\n");
	const struct conf_entry *e;
	struct argv *ov;
	struct buf diag, want;

	(void)state;
	buf_init(&diag, 256);
	buf_init(&want, 256);
	ov = argv_new();
	argv_add(ov, "max_idle = 7");
	argv_add(ov, "inet_interfaces=127.0.0.1");
	param_init_defaults();
	diag_start();
	assert_int_equal(conf_load(dir, ov), 0);
	diag_end(&diag);
	assert_string_equal(diag.data, "");
	assert_int_equal(var_max_use, 42);
	assert_int_equal(var_max_idle, 7);
	assert_string_equal(var_config_directory, dir);
	assert_string_equal(var_mail_name, dir);
	assert_string_equal(var_inet_interfaces, "127.0.0.1");
	assert_string_equal(var_mydomain, "example.org");
	assert_non_null(conf_current());
	e = conf_lookup(conf_current(), "config_directory");
	assert_string_equal(e->file, "command line");
	e = conf_lookup(conf_current(), "max_use");
	assert_int_equal(e->line, 1);
	assert_true(strstr(e->file, "/main.cf") != NULL);
	argv_free(ov);

	/* MAIL_CONFIG selects the directory when none is given. */
	assert_int_equal(setenv("MAIL_CONFIG", dir, 1), 0);
	assert_string_equal(conf_default_dir(), dir);
	param_init_defaults();
	assert_int_equal(conf_load(NULL, NULL), 0);
	assert_string_equal(var_config_directory, dir);
	assert_int_equal(var_max_idle, 100);
	assert_int_equal(setenv("MAIL_CONFIG", "", 1), 0);
	assert_string_equal(conf_default_dir(), DEF_CONFIG_DIR);
	assert_int_equal(unsetenv("MAIL_CONFIG"), 0);
	assert_string_equal(conf_default_dir(), DEF_CONFIG_DIR);

	/* A bad override is reported and nothing is installed. */
	ov = argv_new();
	argv_add(ov, "nonsense");
	argv_add(ov, "max_use=0");
	buf_reset(&diag);
	diag_start();
	assert_int_equal(conf_load(dir, ov), -1);
	diag_end(&diag);
	assert_string_equal(diag.data, "error: command line: bad override "
	    "\"nonsense\" (expected name=value)\n");
	argv_free(ov);
	ov = argv_new();
	argv_add(ov, "max_use=0");
	buf_reset(&diag);
	diag_start();
	assert_int_equal(conf_load(dir, ov), -1);
	diag_end(&diag);
	assert_string_equal(diag.data, "error: command line: parameter "
	    "max_use: bad value \"0\" (expected integer 1..1000000000)\n");
	assert_int_equal(var_max_use, 42);	/* still the old one */
	argv_free(ov);
	remove_dir(dir);

	/* Missing main.cf. */
	dir = make_dir(NULL);
	buf_reset(&diag);
	diag_start();
	assert_int_equal(conf_load(dir, NULL), -1);
	diag_end(&diag);
	buf_printf(&want, "error: open %s/main.cf: No such file or "
	    "directory\n", dir);
	assert_string_equal(diag.data, want.data);
	remove_dir(dir);

	/* Syntax and value errors name the real path. */
	dir = make_dir("ok = 1\n bad\nmax_use = -3\n");
	buf_reset(&diag);
	buf_reset(&want);
	diag_start();
	assert_int_equal(conf_load(dir, NULL), -1);
	diag_end(&diag);
	buf_printf(&want, "error: %s/main.cf, line 3: parameter max_use: "
	    "bad value \"-3\" (expected integer 1..1000000000)\n", dir);
	assert_string_equal(diag.data, want.data);
	remove_dir(dir);
	dir = make_dir(" bad\n");
	buf_reset(&diag);
	buf_reset(&want);
	diag_start();
	assert_int_equal(conf_load(dir, NULL), -1);
	diag_end(&diag);
	buf_printf(&want, "error: %s/main.cf, line 1: logical line must not "
	    "start with whitespace\n", dir);
	assert_string_equal(diag.data, want.data);
	remove_dir(dir);

	conf_install(NULL);
	assert_null(conf_current());
	param_init_defaults();
	buf_fini(&diag);
	buf_fini(&want);
}

/* What a daemon needs to report a configuration that does not load. */
static void
test_load_some(void **state)
{
	static const char *const names[] = {"maillog_file", "syslog_name",
	    "max_use", "max_idle", NULL};
	char *dir = make_dir("maillog_file = $config_directory/log\n"
	    "this line is broken\nmax_use = 0\nmax_idle = ${\n"
	    "syslog_name = petrel/x\n");
	struct argv *ov = argv_new();
	struct buf diag, want;

	(void)state;
	buf_init(&diag, 256);
	buf_init(&want, 256);
	param_init_defaults();
	argv_add(ov, "syslog_name=postfix/submission");
	argv_add(ov, "garbage");
	diag_start();
	/* maillog_file and syslog_name: stored; max_use, max_idle: bad. */
	assert_int_equal(conf_load_some(dir, ov, names), 2);
	diag_end(&diag);
	buf_printf(&want, "%s/log", dir);
	assert_string_equal(var_maillog_file, want.data);
	assert_string_equal(var_syslog_name, "postfix/submission");
	assert_int_equal(var_max_use, 100);
	assert_int_equal(var_max_idle, 100);
	/* Syntax errors are reported as by conf_read_file(). */
	buf_reset(&want);
	buf_printf(&want, "error: %s/main.cf, line 2: missing '=' after "
	    "parameter name \"this line is broken\"\n", dir);
	assert_string_equal(diag.data, want.data);
	/* Nothing installed. */
	assert_null(conf_current());
	argv_free(ov);
	remove_dir(dir);

	/* An unreadable main.cf. */
	dir = make_dir(NULL);
	errno = 0;
	assert_int_equal(conf_load_some(dir, NULL, names), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
	param_init_defaults();
	buf_fini(&diag);
	buf_fini(&want);
}

static void
test_read_file(void **state)
{
	static const char nul_text[] = "a = 1\nb = x\0y\nc = 3";
	struct conf *c = conf_new();
	char *dir = make_dir("a = 1\n");
	struct buf path, diag;

	(void)state;
	buf_init(&path, 64);
	buf_init(&diag, 64);
	buf_printf(&path, "%s/nonesuch", dir);
	errno = 0;
	assert_int_equal(conf_read_file(c, path.data), -1);
	assert_int_equal(errno, ENOENT);
	buf_reset(&path);
	buf_printf(&path, "%s/main.cf", dir);
	assert_int_equal(conf_read_file(c, path.data), 0);
	assert_string_equal(conf_lookup(c, "a")->file, path.data);
	/* A NUL byte in the file is an error on its line. */
	assert_int_equal(file_write_atomic(path.data, nul_text,
	    sizeof(nul_text) - 1, 0644), 0);
	diag_start();
	assert_int_equal(conf_read_file(c, path.data), -1);
	diag_end(&diag);
	assert_int_equal(errno, 0);
	assert_non_null(strstr(diag.data, "main.cf, line 2: NUL character "
	    "in line\n"));
	assert_string_equal(conf_lookup(c, "c")->value, "3");
	conf_free(c);
	remove_dir(dir);
	buf_fini(&path);
	buf_fini(&diag);
}

/*
 * Golden files.
 */
static void
golden_report(const char *text, struct buf *out)
{
	const struct conf_entry *e;
	struct conf *c = conf_new();
	struct buf val, why;
	size_t i;
	int rc;

	buf_init(&val, 128);
	buf_init(&why, 128);
	diag_start();
	rc = conf_read_text(c, text, "main.cf");
	diag_end(out);
	buf_printf(out, "read: %d\n", rc);
	for (i = 0; i < conf_count(c); i++) {
		e = conf_entry_at(c, i);
		buf_printf(out, "entry: %s = %s (line %d)\n", e->name,
		    e->value, e->line);
	}
	for (i = 0; i < conf_count(c); i++) {
		e = conf_entry_at(c, i);
		buf_reset(&val);
		buf_reset(&why);
		if (conf_eval(c, e->name, &val, &why) == 0)
			buf_printf(out, "expand: %s = %s\n", e->name,
			    val.data);
		else
			buf_printf(out, "expand: %s: error: %s\n", e->name,
			    why.data);
	}
	diag_start();
	rc = conf_validate(c, false);
	diag_end(out);
	buf_printf(out, "validate: %d\n", rc);
	diag_start();
	rc = conf_check_unknown(c, false, NULL, NULL);
	diag_end(out);
	buf_printf(out, "unknown: %d\n", rc);
	conf_free(c);
	buf_fini(&val);
	buf_fini(&why);
}

static int
golden_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_golden(void **state)
{
	const char *root = getenv("PETREL_SOURCE_ROOT");
	const char *update = getenv("PETREL_UPDATE_GOLDEN");
	struct buf dirpath, in, want, got, path;
	struct argv *names = argv_new();
	struct dirent *de;
	DIR *dir;
	size_t i, len;

	(void)state;
	if (root == NULL || *root == 0)
		fail_msg("PETREL_SOURCE_ROOT is not set (run through meson)");
	buf_init(&dirpath, 128);
	buf_init(&path, 128);
	buf_init(&in, 1024);
	buf_init(&want, 1024);
	buf_init(&got, 1024);
	buf_printf(&dirpath, "%s/tests/unit/global/data", root);
	if ((dir = opendir(dirpath.data)) == NULL)
		fail_msg("opendir %s: %s", dirpath.data, strerror(errno));
	while ((de = readdir(dir)) != NULL) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, "conf-", 5) == 0 && len > 8
		    && strcmp(de->d_name + len - 3, ".in") == 0)
			argv_addn(names, de->d_name, len - 3);
	}
	closedir(dir);
	if (names->argc < 3)
		fail_msg("%s: expected golden files conf-*.in", dirpath.data);
	qsort(names->argv, names->argc, sizeof(char *), golden_cmp);
	for (i = 0; i < names->argc; i++) {
		buf_reset(&in);
		buf_reset(&want);
		buf_reset(&got);
		buf_reset(&path);
		buf_printf(&path, "%s/%s.in", dirpath.data, names->argv[i]);
		if (file_read(path.data, &in, 1 << 20) < 0)
			fail_msg("read %s: %s", path.data, strerror(errno));
		golden_report(in.data, &got);
		buf_reset(&path);
		buf_printf(&path, "%s/%s.want", dirpath.data, names->argv[i]);
		if (update != NULL && *update != 0) {
			if (file_write_atomic(path.data, got.data, got.len,
				0644) < 0)
				fail_msg("write %s: %s", path.data,
				    strerror(errno));
			continue;
		}
		if (file_read(path.data, &want, 1 << 20) < 0)
			fail_msg("read %s: %s", path.data, strerror(errno));
		check_text(names->argv[i], "golden output", got.data,
		    want.data);
	}
	argv_free(names);
	buf_fini(&dirpath);
	buf_fini(&path);
	buf_fini(&in);
	buf_fini(&want);
	buf_fini(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_lookup_set),
		cmocka_unit_test(test_mydomain_raw),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_expand_limits),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_store),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_check_overrides),
		cmocka_unit_test(test_where_name),
		cmocka_unit_test(test_myorigin_file),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_some),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_golden),
	};

	log_init(PROG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
