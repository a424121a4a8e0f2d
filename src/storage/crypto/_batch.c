/* storage.crypto._batch: sealing and opening whole batches of originals in one call.
 *
 * The same bytes as storage.crypto.envelope's pure-Python path (AES-256-GCM through
 * `cryptography`, HMAC-SHA256 through hashlib): the tests hold the two paths to each other.
 * It exists for speed alone. From Python, each record costs two C calls into OpenSSL plus
 * the interpreter's work around them, about 2.2 us a record; here one call does a batch
 * at about 0.55 us a record (README, "Benchmarks"). It is optional: built when the
 * machine has a C compiler and OpenSSL's headers (hatch_build.py), and the pure-Python
 * path serves wherever it is not.
 *
 * Nothing here formats a value into an error: a failure raises with a fixed message.
 */
#define PY_SSIZE_T_CLEAN
/* SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP, whose provider
 * dispatch costs more per call than the hash of a short value; HMAC needs only the two
 * prepared states below. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <limits.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16
#define SHA_BLOCK 64
#define SEALED_FIELDS 6

static const char HEX[] = "0123456789abcdef";

/* Fetched once: on OpenSSL 3, EVP_aes_256_gcm() makes every context set-up fetch it again
 * from the provider, which costs more than opening a short value. */
static const EVP_CIPHER *aes_256_gcm(void) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    static EVP_CIPHER *fetched = NULL;
    if (fetched == NULL) fetched = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (fetched != NULL) return fetched;
#endif
    return EVP_aes_256_gcm();
}

typedef struct {
    SHA256_CTX inner, outer;
} Hmac;

static void hmac_init(Hmac *h, const unsigned char *key, Py_ssize_t length) {
    unsigned char pad[SHA_BLOCK];
    memset(pad, 0, SHA_BLOCK);
    memcpy(pad, key, (size_t)length);
    for (int i = 0; i < SHA_BLOCK; i++) pad[i] ^= 0x36;
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, SHA_BLOCK);
    for (int i = 0; i < SHA_BLOCK; i++) pad[i] ^= 0x36 ^ 0x5c;
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, SHA_BLOCK);
    OPENSSL_cleanse(pad, SHA_BLOCK);
}

static void hmac(const Hmac *h, const char *message, Py_ssize_t length, unsigned char out[32]) {
    SHA256_CTX c = h->inner;
    SHA256_Update(&c, message, (size_t)length);
    SHA256_Final(out, &c);
    c = h->outer;
    SHA256_Update(&c, out, 32);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

/* Drops a bytes object this module made and alone holds, its contents wiped first. */
static void wipe(PyObject **bytes) {
    if (*bytes == NULL) return;
    if (Py_REFCNT(*bytes) == 1) OPENSSL_cleanse(PyBytes_AS_STRING(*bytes), (size_t)PyBytes_GET_SIZE(*bytes));
    Py_CLEAR(*bytes);
}

/* str.strip()'s whitespace, within ASCII. */
static int is_space(unsigned char c) { return (c >= 9 && c <= 13) || (c >= 28 && c <= 32); }

static int is_ip_character(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == '.' || c == ':';
}

/* storage.crypto.blind.normalise for an ASCII value, where it needs no Python: an e-mail
 * address trimmed and lower-cased into `buffer`, anything else as it is. Returns 0 for a
 * value that may be an IP address, which Python's ipaddress decides. */
static int normal_ascii(const char *s, Py_ssize_t n, char *buffer, const char **out,
                        Py_ssize_t *out_length) {
    Py_ssize_t a = 0, b = n, at = -1;
    int space = 0, printable = 1, ip_characters = 1, dot_or_colon = 0;
    while (a < b && is_space((unsigned char)s[a])) a++;
    while (b > a && is_space((unsigned char)s[b - 1])) b--;
    for (Py_ssize_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '@') at = i;
        if (c == ' ') space = 1;
        if (c < 0x20 || c > 0x7e) printable = 0;
        if (!is_ip_character(c)) ip_characters = 0;
        if (c == '.' || c == ':') dot_or_colon = 1;
    }
    if (at > a && at < b - 1 && !space && printable) {
        for (Py_ssize_t i = a; i < b; i++) {
            char c = s[i];
            buffer[i - a] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        *out = buffer;
        *out_length = b - a;
        return 1;
    }
    if (dot_or_colon && ip_characters) return 0;
    *out = s;
    *out_length = n;
    return 1;
}

#define ASSOCIATED_BYTES 512

/* Starts a value under `nonce` on `ctx` (set up to encrypt or to decrypt) and feeds it the
 * associated data: `aad`, then the modified value. `associated` holds a copy of `aad`
 * already, so the usual case goes in one update, not two: each costs a dispatch. */
static int start_value(EVP_CIPHER_CTX *ctx, const unsigned char *nonce, unsigned char *associated,
                       const Py_buffer *aad, const char *modified, Py_ssize_t length) {
    int written;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1) != 1) return 0;
    if (aad->len + length <= ASSOCIATED_BYTES) {
        memcpy(associated + aad->len, modified, (size_t)length);
        return EVP_CipherUpdate(ctx, NULL, &written, associated, (int)(aad->len + length)) == 1;
    }
    return EVP_CipherUpdate(ctx, NULL, &written, aad->buf, (int)aad->len) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &written, (const unsigned char *)modified,
                            (int)length) == 1;
}

/* A NamedTuple of `type` holding `count` new references taken from `items`. */
static PyObject *named_tuple(PyTypeObject *type, Py_ssize_t count, PyObject **items) {
    PyObject *tuple = type->tp_alloc(type, count);
    if (tuple == NULL) {
        for (Py_ssize_t i = 0; i < count; i++) Py_XDECREF(items[i]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) PyTuple_SET_ITEM(tuple, i, items[i]);
    return tuple;
}

static int is_tuple_type(PyObject *type) {
    return PyType_Check(type) && PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type);
}

static int check_key(Py_buffer *key) {
    if (key->len != KEY_BYTES) {
        PyErr_SetString(PyExc_ValueError, "a data key is 32 bytes");
        return -1;
    }
    return 0;
}

/* A tuple of more than two fields, its first two str: a Record as seal_many takes it. */
static int check_record(PyObject *record) {
    if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) < 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(record, 0)) ||
        !PyUnicode_Check(PyTuple_GET_ITEM(record, 1))) {
        PyErr_SetString(PyExc_TypeError, "a record is a tuple whose first two fields are str");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(seal_many_doc,
"seal_many(records, key, nonces, aad, version, wrapped, index_key, bits, normalise,\n"
"          sealed_type, record_type, revision) -> list\n\n"
"Each record (modified_value, original_value, *rest) as record_type(modified_value,\n"
"sealed_type(version, wrapped, nonce + AES-256-GCM(original) + tag, blind index,\n"
"revision, HMAC digest), *rest); nonces holds 12 bytes a record, aad is the prefix\n"
"the modified value's UTF-8 follows, normalise is called for the values that need\n"
"Python (non-ASCII, or shaped like an IP address).");

static PyObject *seal_many(PyObject *self, PyObject *args) {
    PyObject *records, *version, *wrapped, *normalise, *sealed_type, *record_type, *revision;
    Py_buffer key, nonces, aad, index_key;
    int bits;
    if (!PyArg_ParseTuple(args, "O!y*y*y*UO!y*iOOOU:seal_many", &PyList_Type, &records, &key,
                          &nonces, &aad, &version, &PyBytes_Type, &wrapped, &index_key, &bits,
                          &normalise, &sealed_type, &record_type, &revision))
        return NULL;
    PyObject *result = NULL, *snapshot = NULL, *encoded = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    char *buffer = NULL;
    Py_ssize_t buffer_size = 0;
    Hmac h;
    int hmac_ready = 0;
    /* A snapshot holding every record: normalise is Python, and could change the list. */
    snapshot = PyList_AsTuple(records);
    if (snapshot == NULL) goto done;
    Py_ssize_t count = PyTuple_GET_SIZE(snapshot);
    if (check_key(&key) < 0) goto done;
    if (nonces.len != count * NONCE_BYTES) {
        PyErr_SetString(PyExc_ValueError, "nonces must hold 12 bytes a record");
        goto done;
    }
    if (index_key.len > SHA_BLOCK || bits < 1 || bits > 256) {
        PyErr_SetString(PyExc_ValueError, "an index key is at most 64 bytes, kept to 1-256 bits");
        goto done;
    }
    if (aad.len > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "the associated data is too long");
        goto done;
    }
    if (!PyCallable_Check(normalise) || !is_tuple_type(sealed_type) ||
        !is_tuple_type(record_type)) {
        PyErr_SetString(PyExc_TypeError, "normalise must be callable, the types tuple types");
        goto done;
    }
    hmac_init(&h, index_key.buf, index_key.len);
    hmac_ready = 1;
    int digits = bits / 4, partial = bits % 4;
    int mask = (0xF << (4 - partial)) & 0xF;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL ||
        EVP_EncryptInit_ex(ctx, aes_256_gcm(), NULL, (const unsigned char *)key.buf, NULL) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not set up AES-256-GCM");
        goto done;
    }
    unsigned char associated[ASSOCIATED_BYTES];
    if (aad.len <= ASSOCIATED_BYTES) memcpy(associated, aad.buf, (size_t)aad.len);
    /* Appended to, not made with `count` empty slots: the callback, or a collection, could
     * meet a list with holes in it. */
    result = PyList_New(0);
    if (result == NULL) goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = PyTuple_GET_ITEM(snapshot, i);
        if (check_record(record) < 0) goto fail;
        Py_ssize_t fields = PyTuple_GET_SIZE(record);
        PyObject *modified = PyTuple_GET_ITEM(record, 0), *original = PyTuple_GET_ITEM(record, 1);
        Py_ssize_t modified_length, original_length, normal_length;
        const char *modified_utf8 = PyUnicode_AsUTF8AndSize(modified, &modified_length);
        if (modified_utf8 == NULL) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "a value to seal is not valid Unicode text");
            goto fail;
        }
        const char *original_utf8;
        wipe(&encoded);
        if (PyUnicode_IS_ASCII(original)) {
            original_utf8 = (const char *)PyUnicode_1BYTE_DATA(original);
            original_length = PyUnicode_GET_LENGTH(original);
        } else {
            /* A copy this function owns and wipes, rather than the UTF-8 cache
             * PyUnicode_AsUTF8AndSize would leave in the caller's str. */
            encoded = PyUnicode_AsUTF8String(original);
            if (encoded == NULL) {
                /* Its UnicodeEncodeError would carry the whole value. */
                PyErr_Clear();
                PyErr_SetString(PyExc_ValueError, "a value to seal is not valid Unicode text");
                goto fail;
            }
            original_utf8 = PyBytes_AS_STRING(encoded);
            original_length = PyBytes_GET_SIZE(encoded);
        }
        if (modified_length > INT_MAX || original_length > INT_MAX - NONCE_BYTES - TAG_BYTES) {
            PyErr_SetString(PyExc_ValueError, "a value is too long to seal");
            goto fail;
        }
        PyObject *ciphertext =
            PyBytes_FromStringAndSize(NULL, NONCE_BYTES + original_length + TAG_BYTES);
        if (ciphertext == NULL) goto fail;
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(ciphertext);
        memcpy(out, (const char *)nonces.buf + i * NONCE_BYTES, NONCE_BYTES);
        int written;
        if (!start_value(ctx, out, associated, &aad, modified_utf8, modified_length) ||
            EVP_EncryptUpdate(ctx, out + NONCE_BYTES, &written,
                              (const unsigned char *)original_utf8, (int)original_length) != 1 ||
            EVP_EncryptFinal_ex(ctx, out + NONCE_BYTES + written, &written) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES,
                                out + NONCE_BYTES + original_length) != 1) {
            Py_DECREF(ciphertext);
            PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not encrypt a value");
            goto fail;
        }
        const char *normal;
        PyObject *normalised = NULL;
        if (original_length > buffer_size) {
            if (buffer != NULL) OPENSSL_cleanse(buffer, (size_t)buffer_size);
            PyMem_Free(buffer);
            buffer_size = original_length * 2 + 64;
            buffer = PyMem_Malloc((size_t)buffer_size);
            if (buffer == NULL) {
                buffer_size = 0;
                Py_DECREF(ciphertext);
                PyErr_NoMemory();
                goto fail;
            }
        }
        if (!(PyUnicode_IS_ASCII(original) &&
              normal_ascii(original_utf8, original_length, buffer, &normal, &normal_length))) {
            normalised = PyObject_CallOneArg(normalise, original);
            if (normalised == NULL) {
                Py_DECREF(ciphertext);
                goto fail;
            }
            if (!PyUnicode_Check(normalised) ||
                (normal = PyUnicode_AsUTF8AndSize(normalised, &normal_length)) == NULL) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "normalise must return str");
                Py_DECREF(normalised);
                Py_DECREF(ciphertext);
                goto fail;
            }
        }
        unsigned char mac[32];
        hmac(&h, normal, normal_length, mac);
        Py_XDECREF(normalised);
        PyObject *digest = PyUnicode_New(64, 127);
        PyObject *index = digest ? PyUnicode_New(digits + (partial ? 1 : 0), 127) : NULL;
        if (index == NULL) {
            Py_XDECREF(digest);
            Py_DECREF(ciphertext);
            goto fail;
        }
        Py_UCS1 *d = PyUnicode_1BYTE_DATA(digest), *x = PyUnicode_1BYTE_DATA(index);
        for (int j = 0; j < 32; j++) {
            d[2 * j] = (Py_UCS1)HEX[mac[j] >> 4];
            d[2 * j + 1] = (Py_UCS1)HEX[mac[j] & 15];
        }
        memcpy(x, d, (size_t)digits);
        if (partial) {
            int nibble = (mac[digits / 2] >> ((digits & 1) ? 0 : 4)) & 15;
            x[digits] = (Py_UCS1)HEX[nibble & mask];
        }
        Py_INCREF(version);
        Py_INCREF(wrapped);
        Py_INCREF(revision);
        PyObject *sealed_items[SEALED_FIELDS] = {version, wrapped, ciphertext, index, revision, digest};
        PyObject *sealed = named_tuple((PyTypeObject *)sealed_type, SEALED_FIELDS, sealed_items);
        if (sealed == NULL) goto fail;
        PyObject *sealed_record = ((PyTypeObject *)record_type)->tp_alloc((PyTypeObject *)record_type, fields);
        if (sealed_record == NULL) {
            Py_DECREF(sealed);
            goto fail;
        }
        Py_INCREF(modified);
        PyTuple_SET_ITEM(sealed_record, 0, modified);
        PyTuple_SET_ITEM(sealed_record, 1, sealed);
        for (Py_ssize_t f = 2; f < fields; f++) {
            PyObject *item = PyTuple_GET_ITEM(record, f);
            Py_INCREF(item);
            PyTuple_SET_ITEM(sealed_record, f, item);
        }
        int appended = PyList_Append(result, sealed_record);
        Py_DECREF(sealed_record);
        if (appended < 0) goto fail;
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    if (buffer != NULL) {
        OPENSSL_cleanse(buffer, (size_t)buffer_size);
        PyMem_Free(buffer);
    }
    if (hmac_ready) OPENSSL_cleanse(&h, sizeof h);
    wipe(&encoded);
    Py_XDECREF(snapshot);
    EVP_CIPHER_CTX_free(ctx);
    PyBuffer_Release(&key);
    PyBuffer_Release(&nonces);
    PyBuffer_Release(&aad);
    PyBuffer_Release(&index_key);
    return result;
}

/* A SealedRecord of exactly `type` whose Sealed names this data key. */
static int same_key(PyObject *outcome, PyTypeObject *type, PyObject *version, PyObject *wrapped) {
    if (!Py_IS_TYPE(outcome, type) || PyTuple_GET_SIZE(outcome) < 2) return 0;
    PyObject *sealed = PyTuple_GET_ITEM(outcome, 1);
    if (!PyTuple_Check(sealed) || PyTuple_GET_SIZE(sealed) < 3 ||
        !PyBytes_Check(PyTuple_GET_ITEM(sealed, 2)) ||
        !PyUnicode_Check(PyTuple_GET_ITEM(outcome, 0)))
        return 0;
    PyObject *v = PyTuple_GET_ITEM(sealed, 0), *w = PyTuple_GET_ITEM(sealed, 1);
    if (v != version && !(PyUnicode_Check(v) && PyUnicode_Compare(v, version) == 0)) return 0;
    if (w != wrapped && !(PyBytes_Check(w) && PyBytes_GET_SIZE(w) == PyBytes_GET_SIZE(wrapped) &&
                          memcmp(PyBytes_AS_STRING(w), PyBytes_AS_STRING(wrapped),
                                 (size_t)PyBytes_GET_SIZE(w)) == 0))
        return 0;
    return 1;
}

PyDoc_STRVAR(open_run_doc,
"open_run(outcomes, start, key, version, wrapped, aad, sealed_record_type, record_type,\n"
"         tampered, not_text, opened) -> int\n\n"
"Opens outcomes[start:] while each is a sealed_record_type sealed under this data key\n"
"(version, wrapped), appending to opened a record_type with the original in clear, or\n"
"tampered (authentication failed) or not_text (not UTF-8); returns the index of the\n"
"first outcome it left.");

static PyObject *open_run(PyObject *self, PyObject *args) {
    PyObject *outcomes, *version, *wrapped, *sealed_record_type, *record_type, *tampered,
        *not_text, *opened;
    Py_ssize_t start;
    Py_buffer key, aad;
    if (!PyArg_ParseTuple(args, "O!ny*UO!y*OOOOO!:open_run", &PyList_Type, &outcomes, &start,
                          &key, &version, &PyBytes_Type, &wrapped, &aad, &sealed_record_type,
                          &record_type, &tampered, &not_text, &PyList_Type, &opened))
        return NULL;
    PyObject *result = NULL, *outcome = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *buffer = NULL;
    Py_ssize_t buffer_size = 0, i = start;
    if (check_key(&key) < 0) goto done;
    if (!is_tuple_type(sealed_record_type) || !is_tuple_type(record_type)) {
        PyErr_SetString(PyExc_TypeError, "open_run's record types must be tuple types");
        goto done;
    }
    if (aad.len > INT_MAX || start < 0) {
        PyErr_SetString(PyExc_ValueError, "open_run takes start >= 0 and a shorter aad");
        goto done;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL ||
        EVP_DecryptInit_ex(ctx, aes_256_gcm(), NULL, (const unsigned char *)key.buf, NULL) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not set up AES-256-GCM");
        goto done;
    }
    unsigned char associated[ASSOCIATED_BYTES];
    if (aad.len <= ASSOCIATED_BYTES) memcpy(associated, aad.buf, (size_t)aad.len);
    for (; i < PyList_GET_SIZE(outcomes); i++) {
        /* Held while in use: a finalizer the allocator's collection runs could change the
         * list. */
        Py_XSETREF(outcome, Py_NewRef(PyList_GET_ITEM(outcomes, i)));
        if (!same_key(outcome, (PyTypeObject *)sealed_record_type, version, wrapped)) break;
        PyObject *modified = PyTuple_GET_ITEM(outcome, 0);
        PyObject *stored = PyTuple_GET_ITEM(PyTuple_GET_ITEM(outcome, 1), 2);
        Py_ssize_t stored_length = PyBytes_GET_SIZE(stored), modified_length;
        const unsigned char *in = (const unsigned char *)PyBytes_AS_STRING(stored);
        const char *modified_utf8 = PyUnicode_AsUTF8AndSize(modified, &modified_length);
        if (modified_utf8 == NULL) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "a modified value is not valid Unicode text");
            goto done;
        }
        PyObject *verdict = tampered, *value = NULL;
        if (stored_length >= NONCE_BYTES + TAG_BYTES && modified_length <= INT_MAX &&
            stored_length <= INT_MAX) {
            Py_ssize_t length = stored_length - NONCE_BYTES - TAG_BYTES;
            if (length + 1 > buffer_size) {
                if (buffer != NULL) OPENSSL_cleanse(buffer, (size_t)buffer_size);
                PyMem_Free(buffer);
                buffer_size = length * 2 + 64;
                buffer = PyMem_Malloc((size_t)buffer_size);
                if (buffer == NULL) {
                    buffer_size = 0;
                    PyErr_NoMemory();
                    goto done;
                }
            }
            int written;
            if (start_value(ctx, in, associated, &aad, modified_utf8, modified_length) &&
                EVP_DecryptUpdate(ctx, buffer, &written, in + NONCE_BYTES, (int)length) == 1 &&
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES,
                                    (void *)(in + NONCE_BYTES + length)) == 1 &&
                EVP_DecryptFinal_ex(ctx, buffer + written, &written) == 1) {
                value = PyUnicode_DecodeUTF8((const char *)buffer, length, "strict");
                OPENSSL_cleanse(buffer, (size_t)length);
                if (value == NULL) {
                    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) goto done;
                    PyErr_Clear();
                    verdict = not_text;
                }
            } else {
                OPENSSL_cleanse(buffer, (size_t)length);
            }
        }
        PyObject *item;
        if (value == NULL) {
            item = verdict;
            Py_INCREF(item);
        } else {
            Py_ssize_t fields = PyTuple_GET_SIZE(outcome);
            item = ((PyTypeObject *)record_type)->tp_alloc((PyTypeObject *)record_type, fields);
            if (item == NULL) {
                Py_DECREF(value);
                goto done;
            }
            Py_INCREF(modified);
            PyTuple_SET_ITEM(item, 0, modified);
            PyTuple_SET_ITEM(item, 1, value);
            for (Py_ssize_t f = 2; f < fields; f++) {
                PyObject *field = PyTuple_GET_ITEM(outcome, f);
                Py_INCREF(field);
                PyTuple_SET_ITEM(item, f, field);
            }
        }
        int appended = PyList_Append(opened, item);
        Py_DECREF(item);
        if (appended < 0) goto done;
    }
    result = PyLong_FromSsize_t(i);
done:
    if (buffer != NULL) {
        OPENSSL_cleanse(buffer, (size_t)buffer_size);
        PyMem_Free(buffer);
    }
    Py_XDECREF(outcome);
    EVP_CIPHER_CTX_free(ctx);
    PyBuffer_Release(&key);
    PyBuffer_Release(&aad);
    return result;
}

static PyMethodDef methods[] = {
    {"seal_many", seal_many, METH_VARARGS, seal_many_doc},
    {"open_run", open_run, METH_VARARGS, open_run_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "storage.crypto._batch",
    "Batched AES-256-GCM sealing and opening with the blind index, in C.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__batch(void) { return PyModule_Create(&module); }
