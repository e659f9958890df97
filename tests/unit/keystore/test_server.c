// SPDX-License-Identifier: MIT
/*
 * test_server.c - keystore/server.c and keystore/client.c together: a server
 * on a thread of this process, a temp store with the "test" KDF profile, and
 * the client library (plus raw sockets for malformed input); server_fixture.h.
 * The limits and fairness of PROTOCOL.md 8.1 are test_server_limits.c's.
 * Runs in the sanitizer build too.
 */
#include "tests/unit/keystore/server_fixture.h"

TestSuite(keystore_server, .init = setup, .fini = teardown);

Test(keystore_server, full_session_through_the_client_library)
{
	struct pfc_ks *ks = conn();
	struct pfc_ks_status st;
	struct pfc_ks_keyinfo *list = NULL;
	static struct pfc_ks_filekey fk[64];
	uint8_t key[32], out[32], b1[PFC_WRAPPED_MAX], b2[PFC_WRAPPED_MAX], *bundle = NULL;
	const uint8_t ad[] = "pfcrypt/v1 name-key\0volumeidvolumeid";
	size_t l1, l2, n, blen;
	uint32_t v, imported = 9;

	randombytes_buf(key, 32);
	cr_assert_eq(pfc_ks_status(ks, &st), 0);
	cr_assert(!st.locked);
	cr_assert_str_eq(st.kdf_profile, "test");
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), PFC_ERR_EXISTS);
	cr_assert_eq(pfc_ks_wrap(ks, "vol", ad, sizeof(ad), key, b1, &l1), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b1, l1, ad, sizeof(ad), out), 0);
	cr_assert_arr_eq(out, key, 32);
	cr_assert_eq(pfc_ks_unwrap(ks, b1, l1, ad, 5, out), PFC_ERR_AUTH);
	cr_assert(sodium_is_zero(out, 32), "key output wiped on failure");
	cr_assert_eq(pfc_ks_rewrap(ks, b1, l1, ad, sizeof(ad), b2, &l2), 1);
	cr_assert_eq(pfc_ks_rotate(ks, "vol", &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(pfc_ks_rewrap(ks, b1, l1, ad, sizeof(ad), b2, &l2), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b2, l2, ad, sizeof(ad), out), 0);
	cr_assert_arr_eq(out, key, 32);
	cr_assert_eq(pfc_ks_generate_file_keys(ks, "vol", ad, 20, 64, fk), 0);
	/* retire and export need proof of the store passphrase (PROTOCOL.md 2.1) */
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1, 0, 0, NULL), PFC_ERR_DENIED);
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, "test", &bundle, &blen),
		     PFC_ERR_DENIED);
	pfc_ks_set_proof(ks, "wrong", 5);
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1, 0, 0, NULL), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, "test", &bundle, &blen),
		     PFC_ERR_BAD_PASSPHRASE);
	pfc_ks_set_proof(ks, PW, strlen(PW));
	cr_assert_eq(pfc_ks_retire(ks, "vol", 2, 0, 0, NULL), PFC_ERR_BUSY);
	/* this process unwrapped under v1 and still runs (PROTOCOL.md 2.2) */
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1, 0, 0, NULL), PFC_ERR_BUSY);
	cr_assert_neq(strstr(pfc_ks_last_message(ks), "still connected or running"), NULL);
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1, PFC_KS_RETIRE_FORCE, 0, NULL), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b1, l1, ad, sizeof(ad), out), PFC_ERR_KEY_RETIRED);
	cr_assert_neq(strlen(pfc_ks_last_message(ks)), 0);
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_KEY_RETIRED), ENOKEY);
	cr_assert_eq(pfc_ks_list(ks, &list, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].name, "vol");
	cr_assert_eq(list[0].state, PFC_KS_RETIRED);
	cr_assert_eq(list[1].state, PFC_KS_PRIMARY);
	pfc_ks_list_free(list);
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, "test", &bundle, &blen), 0);
	cr_assert_eq(pfc_ks_import(ks, bundle, blen, "exp", 3, &imported), 0);
	cr_assert_eq(imported, 0);
	cr_assert_eq(pfc_ks_import(ks, bundle, blen, "bad", 3, &imported), PFC_ERR_BAD_PASSPHRASE);
	pfc_ks_bundle_free(bundle);
	cr_assert_eq(pfc_ks_lock(ks), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b2, l2, ad, sizeof(ad), out), PFC_ERR_LOCKED);
	cr_assert_eq(pfc_ks_status(ks, &st), 0);
	cr_assert(st.locked);
	cr_assert_eq(pfc_ks_unlock(ks, "wrong", 5), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_unlock(ks, PW, strlen(PW)), 0);
	cr_assert_eq(pfc_ks_change_passphrase(ks, "wrong", 5, "new", 3), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_change_passphrase(ks, PW, strlen(PW), "new", 3), 0);
	cr_assert_eq(pfc_ks_lock(ks), 0);
	cr_assert_eq(pfc_ks_unlock(ks, PW, strlen(PW)), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_unlock(ks, "new", 3), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b2, l2, ad, sizeof(ad), out), 0);
	cr_assert_arr_eq(out, key, 32);
	pfc_ks_close(ks);
}

Test(keystore_server, client_reconnects_once_after_a_restart)
{
	struct pfc_ks *ks = conn();
	uint32_t v;

	cr_assert_eq(pfc_ks_hello(ks, &v), 0);
	stop_server();
	start_server();
	cr_assert_eq(pfc_ks_hello(ks, &v), 0, "idempotent request resent on a new connection");
	stop_server();
	cr_assert_eq(pfc_ks_hello(ks, &v), PFC_ERR_UNREACHABLE);
	start_server();
	cr_assert_eq(pfc_ks_hello(ks, &v), 0);
	pfc_ks_close(ks);
}

Test(keystore_server, unreachable_and_timeout)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pfc_ks *ks = NULL;
	char silent[160];
	uint32_t v;
	int fd;

	cr_assert_eq(pfc_ks_connect("/nonexistent/ks.sock", 500, &ks), PFC_ERR_UNREACHABLE);
	cr_assert_null(ks);
	/* a socket that accepts connections (backlog) but never answers */
	snprintf(silent, sizeof(silent), "%s/silent.sock", dir);
	strcpy(sa.sun_path, silent);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(pfc_ks_connect(silent, 200, &ks), 0);
	cr_assert_eq(pfc_ks_hello(ks, &v), PFC_ERR_TIMEOUT);
	pfc_ks_close(ks);
	close(fd);
}

Test(keystore_server, zero_length_frame_gets_an_error_and_a_close)
{
	int fd = raw();
	uint32_t code = 0;

	cr_assert_eq(send(fd, "\0\0\0\0", 4, 0), 4);
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_PROTOCOL);
	cr_assert(closed_by_server(fd));
	close(fd);
	still_serves();
}

Test(keystore_server, oversized_frame_gets_an_error_and_a_close)
{
	int fd = raw();
	uint8_t hdr[5];
	uint32_t code = 0;

	pfc_store_u32(hdr, PFC_KS_FRAME_MAX + 1);
	hdr[4] = PFC_KS_HELLO;
	cr_assert_eq(send(fd, hdr, 5, 0), 5);
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_TOO_LARGE);
	cr_assert(closed_by_server(fd));
	close(fd);
	still_serves();
}

Test(keystore_server, unknown_type_and_truncated_field)
{
	int fd = raw();
	uint32_t code = 0;
	/* CREATE whose lv16 name claims 5 bytes, 2 present */
	const uint8_t trunc[] = {5, 0, 0, 0, PFC_KS_CREATE, 5, 0, 'a', 'b'};
	const uint8_t unknown[] = {1, 0, 0, 0, 0x42};
	const uint8_t hello[] = {5, 0, 0, 0, PFC_KS_HELLO, 1, 0, 0, 0};

	cr_assert_eq(send(fd, trunc, sizeof(trunc), 0), (ssize_t)sizeof(trunc));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_TRUNCATED);
	/* the frame was well delimited: the connection still works */
	cr_assert_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_HELLO | PFC_KS_REPLY);
	cr_assert_eq(send(fd, unknown, sizeof(unknown), 0), (ssize_t)sizeof(unknown));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_PROTOCOL);
	cr_assert(closed_by_server(fd));
	close(fd);
	still_serves();
}

Test(keystore_server, stalled_client_does_not_delay_others_and_is_dropped)
{
	int fd = raw();
	const uint8_t half[] = {40, 0, 0, 0, PFC_KS_WRAP, 3};

	cr_assert_eq(send(fd, half, sizeof(half), 0), (ssize_t)sizeof(half));
	still_serves(); /* answered while the staller holds a partial frame */
	cr_assert(closed_by_server(fd), "staller closed after the client timeout");
	close(fd);
	still_serves();
}

struct sharer {
	struct pfc_ks *ks;
	const uint8_t *blob;
	size_t len;
	const uint8_t *key;
	int bad;
};

static void *share(void *arg)
{
	struct sharer *sh = arg;
	uint8_t out[32];

	for (int i = 0; i < 300; i++)
		if (pfc_ks_unwrap(sh->ks, sh->blob, sh->len, NULL, 0, out) != 0 ||
		    memcmp(out, sh->key, 32) != 0)
			sh->bad++;
	return NULL;
}

Test(keystore_server, one_handle_shared_by_four_threads)
{
	struct pfc_ks *ks = conn();
	uint8_t key[32], blob[PFC_WRAPPED_MAX];
	struct sharer sh[4];
	pthread_t t[4];
	size_t len;

	randombytes_buf(key, 32);
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	cr_assert_eq(pfc_ks_wrap(ks, "vol", NULL, 0, key, blob, &len), 0);
	for (int i = 0; i < 4; i++) {
		sh[i] = (struct sharer){ks, blob, len, key, 0};
		pthread_create(&t[i], NULL, share, &sh[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(sh[i].bad, 0, "thread %d: %d bad replies", i, sh[i].bad);
	}
	pfc_ks_close(ks);
}

/* A fake keystore: accepts connections, reads one frame on each, closes
 * without replying.  Counts the connections. */
struct dropper {
	int fd;
	int conns;
};

static void *drop_after_read(void *arg)
{
	struct dropper *d = arg;

	for (;;) {
		uint8_t buf[512];
		int c = accept(d->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		d->conns++;
		if (recv(c, buf, sizeof(buf), 0) <= 0) {
			close(c);
			return NULL; /* the test's own wake-up connection */
		}
		close(c);
	}
}

static int dropped_request(bool idempotent)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct dropper d = {0};
	struct pfc_ks *ks = NULL;
	char path[160];
	pthread_t t;
	uint32_t v;
	int rc, wake;

	snprintf(path, sizeof(path), "%s/dropper.sock", dir);
	unlink(path);
	strcpy(sa.sun_path, path);
	d.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(d.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(d.fd, 8), 0);
	pthread_create(&t, NULL, drop_after_read, &d);
	cr_assert_eq(pfc_ks_connect(path, 2000, &ks), 0);
	rc = idempotent ? pfc_ks_hello(ks, &v) : pfc_ks_rotate(ks, "vol", &v);
	pfc_ks_close(ks);
	/* stop the fake server: a connection that sends nothing */
	wake = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(wake, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(wake);
	pthread_join(t, NULL);
	close(d.fd);
	cr_assert_eq(rc, PFC_ERR_UNREACHABLE);
	return d.conns - 1; /* minus the wake-up connection */
}

Test(keystore_server, dropped_reply_is_resent_once_only_when_idempotent)
{
	cr_assert_eq(dropped_request(true), 2, "hello: one reconnect and resend");
	cr_assert_eq(dropped_request(false), 1, "rotate: never resent after it was sent");
}
