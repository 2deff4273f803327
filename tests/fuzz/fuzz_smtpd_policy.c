/*
 * fuzz_smtpd_policy.c - libFuzzer target: check_policy_service's parsers
 * (smtpd_check_policy_parse.c)
 *
 * The input is, at once, what a policy server answers, a value that a
 * client puts in a request, and a check_policy_service argument from
 * main.cf. Beyond "no crash" (each parser sees a copy of exactly the
 * input, so ASan catches a read past it):
 *   - a reply that parses ends with a newline, and its action is a
 *     non-blank run of printable ASCII (or tabs) found in the input;
 *     parsing it again gives the same action;
 *   - an encoded attribute is exactly one line, without CR, whatever
 *     the value;
 *   - an argument that parses names a server that parses, and its
 *     settings are within their bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msg.h"
#include "smtpd_check_policy.h"

/* Linked with -Wl,--wrap=msg_error: errors must not end the process. */
void __wrap_msg_error(const char *fmt, ...);

void
__wrap_msg_error(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_reply(const uint8_t *data, size_t size)
{
	struct buf action, again, why;
	char *copy = malloc(size ? size : 1);
	bool ok;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	buf_init(&action, 64);
	buf_init(&again, 64);
	buf_init(&why, 64);
	ok = check_policy_reply_parse(copy, size, &action, &why);
	if (!ok && why.len == 0)
		abort();
	if (ok) {
		/*
		 * The action is the reply's, with any control or 8-bit
		 * byte made '?': never longer, always printable (below).
		 */
		if (size == 0 || copy[size - 1] != '\n' || action.len == 0
		    || action.len > size)
			abort();
		for (size_t i = 0; i < action.len; i++) {
			unsigned char c = (unsigned char)action.data[i];

			if ((c < 0x20 && c != '\t') || c >= 0x7f)
				abort();
		}
		if (strspn(action.data, " \t") == action.len)
			abort();
		if (!check_policy_reply_parse(copy, size, &again, &why)
		    || strcmp(again.data, action.data) != 0)
			abort();
	}
	free(copy);
	buf_fini(&action);
	buf_fini(&again);
	buf_fini(&why);
}

static void
fuzz_attr(const char *value)
{
	struct buf out;

	buf_init(&out, 64);
	check_policy_attr(&out, "helo_name", value);
	if (out.len < 11 || memchr(out.data, '\n', out.len) != out.data
	    + out.len - 1 || memchr(out.data, '\r', out.len) != NULL)
		abort();
	buf_fini(&out);
}

static void
fuzz_spec(const char *arg)
{
	static const struct check_policy_spec dflt = {
		.timeout = 100, .max_idle = 300, .max_ttl = 1000,
		.request_limit = 0, .try_limit = 2, .retry_delay = 1,
		.default_action = "DUNNO", .policy_context = "",
	};
	struct check_policy_spec spec;
	struct check_policy_endpoint ep;
	struct buf why;

	buf_init(&why, 64);
	if (check_policy_spec_parse(arg, &dflt, &spec, &why)) {
		if (!check_policy_endpoint_parse(spec.server, &ep, &why))
			abort();
		if ((ep.inet && (ep.host == NULL || ep.port == NULL))
		    || (!ep.inet && ep.path == NULL))
			abort();
		if (spec.timeout < 1 || spec.max_idle < 1 || spec.max_ttl < 1
		    || spec.try_limit < 1 || spec.try_limit > 100
		    || spec.retry_delay < 0 || spec.retry_delay > 3600
		    || spec.request_limit < 0 || spec.default_action == NULL
		    || spec.policy_context == NULL)
			abort();
		check_policy_endpoint_fini(&ep);
		check_policy_spec_fini(&spec);
	} else if (why.len == 0 || spec.server != NULL) {
		abort();
	}
	buf_fini(&why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	fuzz_reply(data, size);
	fuzz_attr(text);
	fuzz_spec(text);
	free(text);
	return 0;
}
