/*
 * master_listen.c - open and close the services' listening endpoints
 *
 * inet	  [host:]port; without a host, every address of inet_interfaces
 *	  ("all" = the wildcard addresses, "loopback-only", or a list of
 *	  names and addresses) for each family of inet_protocols ("all",
 *	  "ipv4", "ipv6"). The wildcard for both families is one
 *	  dual-stack socket on :: (IPv4 clients arrive as ::ffff:a.b.c.d,
 *	  which smtpd turns back into a.b.c.d), so that an idle
 *	  single-server process waits on one socket and a connection wakes
 *	  only one of them (EPOLLEXCLUSIVE); a host without IPv6 gets
 *	  0.0.0.0. Other IPv6 sockets are IPV6_V6ONLY, so that an IPv4 and
 *	  an IPv6 address can both be bound on the same port.
 * unix	  a socket private/NAME or public/NAME under queue_directory
 * pass	  (master's cwd), mode 0666: the directory controls access.
 * fifo	  a FIFO public/NAME or private/NAME, mode 0622, opened
 *	  read-write so that it never reports end-of-file.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "master.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "str.h"

#define MASTER_LISTEN_BACKLOG	SOMAXCONN

void
master_listen_path(const struct master_ent *ent, struct buf *out)
{
	buf_printf(out, "%s/%s", ent->private_ ? "private" : "public",
	    ent->service);
}

static void
master_listen_add(struct master_serv *serv, int fd)
{
	serv->listen_fds = xreallocarray(serv->listen_fds,
	    serv->listen_count + 1, sizeof(int));
	serv->listen_fds[serv->listen_count++] = fd;
}

/* Which address families inet_protocols asks for. */
static int
master_inet_families(bool *v4, bool *v6, struct buf *why)
{
	struct argv *protos = argv_split(var_inet_protocols, ", \t\r\n");
	size_t i;
	int rc = 0;

	*v4 = *v6 = false;
	for (i = 0; i < protos->argc; i++) {
		if (strcmp(protos->argv[i], "all") == 0)
			*v4 = *v6 = true;
		else if (strcmp(protos->argv[i], "ipv4") == 0)
			*v4 = true;
		else if (strcmp(protos->argv[i], "ipv6") == 0)
			*v6 = true;
		else {
			buf_printf(why, "inet_protocols: bad value \"%s\" "
			    "(expected all, ipv4 or ipv6)", protos->argv[i]);
			rc = -1;
		}
	}
	if (rc == 0 && !*v4 && !*v6) {
		buf_puts(why, "inet_protocols: no protocol enabled");
		rc = -1;
	}
	argv_free(protos);
	return rc;
}

static bool
master_same_addr(const struct master_serv *serv, const struct sockaddr *sa,
    socklen_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t i;

	for (i = 0; i < serv->listen_count; i++) {
		sslen = sizeof(ss);
		if (getsockname(serv->listen_fds[i], (struct sockaddr *)&ss,
		    &sslen) == 0 && sslen == len && memcmp(&ss, sa, len) == 0)
			return true;
	}
	return false;
}

/* Does the IPv6 socket fd take IPv4 clients too? */
static bool
master_dual_stack(int fd)
{
	int v6only = 1;
	socklen_t len = sizeof(v6only);

	return getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0
	    && v6only == 0;
}

/*
 * Bind every address that host (NULL = wildcard) resolves to. With
 * dual_stack, IPv6 sockets also take IPv4 clients.
 */
static int
master_listen_inet_host(struct master_serv *serv, const char *host,
    int family, bool dual_stack, struct buf *why, int *status)
{
	struct addrinfo hints = {0}, *res, *ai;
	char addr[NI_MAXHOST], port[NI_MAXSERV];
	int fd, err, on = 1, v6only = dual_stack ? 0 : 1;

	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | (host ? AI_ADDRCONFIG : 0);
	if ((err = getaddrinfo(host, serv->ent->port, &hints, &res)) != 0) {
		if (host == NULL && err == EAI_FAMILY)
			return 0;	/* no IPv6 here: fine for "all" */
		buf_printf(why, "look up host %s port %s: %s",
		    host ? host : "(any)", serv->ent->port, gai_strerror(err));
		*status = EX_CONFIG;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (master_same_addr(serv, ai->ai_addr, ai->ai_addrlen))
			continue;
		getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
		    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC
		    | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			if (host == NULL && errno == EAFNOSUPPORT)
				continue;
			buf_printf(why, "socket for %s: %s", addr,
			    strerror(errno));
			goto fail;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		/* A failure leaves the system's default: see the caller. */
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
			    &v6only, sizeof(v6only));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0
		    || listen(fd, MASTER_LISTEN_BACKLOG) < 0) {
			buf_printf(why, "bind %s port %s: %s", addr, port,
			    strerror(errno));
			close(fd);
			goto fail;
		}
		master_listen_add(serv, fd);
	}
	freeaddrinfo(res);
	return 0;

fail:
	freeaddrinfo(res);
	*status = EX_UNAVAILABLE;
	return -1;
}

static int
master_listen_inet(struct master_serv *serv, struct buf *why, int *status)
{
	struct argv *hosts;
	bool v4, v6;
	int family, rc = 0;
	size_t i;

	if (master_inet_families(&v4, &v6, why) < 0) {
		*status = EX_CONFIG;
		return -1;
	}
	family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
	if (serv->ent->host)
		return master_listen_inet_host(serv, serv->ent->host, family,
		    false, why, status);
	hosts = argv_split(var_inet_interfaces, ", \t\r\n");
	if (hosts->argc == 1 && strcmp(hosts->argv[0], "all") == 0) {
		if (v6)
			rc = master_listen_inet_host(serv, NULL, AF_INET6, v4,
			    why, status);
		/*
		 * No IPv6 on this host, or a :: socket that would not take
		 * IPv4 too: the IPv4 wildcard as well.
		 */
		if (rc == 0 && v4 && (serv->listen_count == 0
		    || !master_dual_stack(serv->listen_fds[0])))
			rc = master_listen_inet_host(serv, NULL, AF_INET,
			    false, why, status);
	} else if (hosts->argc == 1
	    && strcmp(hosts->argv[0], "loopback-only") == 0) {
		if (v4)
			rc = master_listen_inet_host(serv, "127.0.0.1",
			    AF_INET, false, why, status);
		if (rc == 0 && v6)
			rc = master_listen_inet_host(serv, "::1", AF_INET6,
			    false, why, status);
	} else {
		for (i = 0; rc == 0 && i < hosts->argc; i++) {
			char *host = hosts->argv[i];
			size_t len = strlen(host);

			if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
				host[len - 1] = 0;
				host++;
			}
			rc = master_listen_inet_host(serv, host, family,
			    false, why, status);
		}
	}
	argv_free(hosts);
	if (rc == 0 && serv->listen_count == 0) {
		buf_puts(why, "no address to listen on (inet_interfaces, "
		    "inet_protocols)");
		*status = EX_CONFIG;
		rc = -1;
	}
	return rc;
}

static int
master_listen_unix(struct master_serv *serv, const char *path,
    struct buf *why, int *status)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		buf_printf(why, "socket name too long: %s", path);
		*status = EX_CONFIG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			buf_printf(why, "%s exists and is not a socket", path);
			*status = EX_CANTCREAT;
			return -1;
		}
		unlink(path);		/* left over from an earlier run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
	    || chmod(path, 0666) < 0 || listen(fd, MASTER_LISTEN_BACKLOG) < 0) {
		buf_printf(why, "socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		*status = EX_CANTCREAT;
		return -1;
	}
	master_listen_add(serv, fd);
	return 0;
}

static int
master_listen_fifo(struct master_serv *serv, const char *path,
    struct buf *why, int *status)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode)) {
		buf_printf(why, "%s exists and is not a fifo", path);
		*status = EX_CANTCREAT;
		return -1;
	}
	if ((mkfifo(path, 0622) < 0 && errno != EEXIST)
	    || (fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW))
		< 0) {
		buf_printf(why, "fifo %s: %s", path, strerror(errno));
		*status = EX_CANTCREAT;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)
	    || fchmod(fd, 0622) < 0) {
		buf_printf(why, "fifo %s: not a usable fifo", path);
		close(fd);
		*status = EX_CANTCREAT;
		return -1;
	}
	master_listen_add(serv, fd);
	return 0;
}

int
master_listen_open(struct master_serv *serv, struct buf *why, int *status)
{
	struct buf path;
	int rc;

	if (serv->ent->type == MASTER_INET) {
		rc = master_listen_inet(serv, why, status);
	} else {
		buf_init(&path, 64);
		master_listen_path(serv->ent, &path);
		rc = serv->ent->type == MASTER_FIFO
		    ? master_listen_fifo(serv, path.data, why, status)
		    : master_listen_unix(serv, path.data, why, status);
		buf_fini(&path);
	}
	if (rc < 0)
		master_listen_close(serv);
	return rc;
}

void
master_listen_close(struct master_serv *serv)
{
	struct buf path;
	size_t i;

	for (i = 0; i < serv->listen_count; i++)
		close(serv->listen_fds[i]);
	/* A removed unix service takes its socket name with it. */
	if (serv->listen_count && serv->ent
	    && (serv->ent->type == MASTER_UNIX
		|| serv->ent->type == MASTER_PASS)) {
		buf_init(&path, 64);
		master_listen_path(serv->ent, &path);
		unlink(path.data);
		buf_fini(&path);
	}
	free(serv->listen_fds);
	serv->listen_fds = NULL;
	serv->listen_count = 0;
}
