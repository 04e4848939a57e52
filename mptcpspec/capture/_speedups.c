/* The capture reader's optional native fast path: packet records -> Segments.
 *
 * ``Batch.pcap(buf, pos, frame, out, ...)`` walks the whole classic pcap records of ``buf`` from ``pos``,
 * ``Batch.pcapng(...)`` the whole Enhanced Packet Blocks, and each appends one item per packet to ``out``:
 * a ``Segment`` when the packet is the common case (a supported link header, IPv4 without options and not
 * a fragment or IPv6 with TCP as its first next header, and a whole TCP header inside both the capture
 * and the IP payload), otherwise the record itself as the reader's raw tuple ``(frame, ts_ns, interface,
 * linktype, data, orig_len)`` for the Python decoder, which owns every other case and every capture note.
 * Both stop before a record the Python reader must handle (cut by the end of ``buf``, an impossible
 * length, any other block) and return where they stopped.  Every Segment built here equals what
 * ``PacketDecoder.decode`` builds from the same bytes (tests/capture/test_speedups.py compares both on
 * every capture and on mutated ones).
 *
 * Nothing here reads beyond a length it has checked against the buffer or the record's captured length.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define N_FIELDS 16
#define RECORD_HEADER 16
#define EPB 6
#define MAX_RECORD (1u << 24)
#define TCP_PROTO 6
#define MPTCP_KIND 30
#define MAX_SPANS 8 /* MPTCP options per segment passed on their own; more is unusual */

#define N_DSS_FIELDS 9
#define MAX_SCANS 4096 /* distinct MPTCP option fields remembered; the memo starts over when full */

static const char *const DSS_FIELDS[N_DSS_FIELDS] = {
    "data_ack", "data_ack_wide", "dsn", "dsn_wide", "ssn",
    "data_level_length", "checksum", "data_fin", "reserved",
};

static const char *const FIELDS[N_FIELDS] = {
    "frame", "time", "ip_version", "src", "dst", "sport", "dport", "seq", "ack",
    "flags", "window", "payload_len", "payload", "tcp_options", "mptcp", "option_errors",
};

enum { F_FRAME, F_TIME, F_VERSION, F_SRC, F_DST, F_SPORT, F_DPORT, F_SEQ, F_ACK,
       F_FLAGS, F_WINDOW, F_PAYLOAD_LEN, F_PAYLOAD, F_OPTIONS, F_MPTCP, F_ERRORS };

typedef struct {
    PyObject_HEAD
    PyTypeObject *segment_type;
    Py_ssize_t offsets[N_FIELDS];
    PyTypeObject *dss_type;
    Py_ssize_t dss_offsets[N_DSS_FIELDS];
    PyObject *scans;      /* dict: MPTCP option bytes -> (mptcp options, option errors) */
    PyObject *names;      /* dict: raw address bytes -> text */
    PyObject *name_of;    /* callable: raw address bytes -> text (fills ``names``) */
    PyObject *scan;       /* callable: TCP options bytes -> (mptcp options, option errors) */
    PyObject *no_options; /* the pair for options without MPTCP: ((), ()) */
} Batch;

static uint16_t be16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static uint32_t u32(int little, const unsigned char *p) {
    if (little)
        return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[0];
    return be32(p);
}

static int ip_ethertype(const unsigned char *p) {
    return (p[0] == 0x08 && p[1] == 0x00) || (p[0] == 0x86 && p[1] == 0xdd);
}

static int vlan_ethertype(const unsigned char *p) {
    return (p[0] == 0x81 && p[1] == 0x00) || (p[0] == 0x88 && p[1] == 0xa8) || (p[0] == 0x91 && p[1] == 0x00);
}

static int af_ip(const unsigned char *p) {
    static const unsigned families[] = {2, 10, 24, 28, 30};
    uint32_t le = ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
    uint32_t be = be32(p);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (le == families[i] || be == families[i])
            return 1;
    return 0;
}

/* Offset of the IP header, or -1 when this path does not decode the packet (the Python path will). */
static Py_ssize_t link_offset(int linktype, const unsigned char *d, Py_ssize_t len) {
    switch (linktype) {
    case 1: { /* Ethernet II, any number of 802.1Q / 802.1ad tags */
        Py_ssize_t off = 12;
        while (len >= off + 2 && vlan_ethertype(d + off))
            off += 4;
        return len >= off + 2 && ip_ethertype(d + off) ? off + 2 : -1;
    }
    case 113: /* Linux cooked v1 */
        return len >= 16 && ip_ethertype(d + 14) ? 16 : -1;
    case 276: /* Linux cooked v2 */
        return len >= 2 && ip_ethertype(d) ? 20 : -1;
    case 0: case 108: /* BSD NULL / OpenBSD LOOP */
        return len >= 4 && af_ip(d) ? 4 : -1;
    case 12: case 14: case 101: case 228: case 229: /* raw IP */
        return 0;
    default:
        return -1;
    }
}

/* (linktype, mul, div, offset_ns) of one interface of a pcapng section, given as the reader's
 * (linktype, snaplen, mul, div, offset_ns): 0, or 1 when a value does not fit in 64 bits (a damaged IDB:
 * the Python reader takes its packets), -1 on error. */
static int interface_fields(PyObject *entry, long long fields[4]) {
    static const int items[4] = {0, 2, 3, 4};
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5) {
        PyErr_SetString(PyExc_TypeError, "an interface is (linktype, snaplen, mul, div, offset_ns)");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        int overflow = 0;
        fields[i] = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(entry, items[i]), &overflow);
        if (fields[i] == -1 && PyErr_Occurred())
            return -1;
        if (overflow)
            return 1;
    }
    return 0;
}

static PyObject *address(Batch *self, const unsigned char *raw, Py_ssize_t size) {
    PyObject *key = PyBytes_FromStringAndSize((const char *)raw, size);
    if (key == NULL)
        return NULL;
    PyObject *name = PyDict_GetItemWithError(self->names, key);
    if (name != NULL) {
        Py_INCREF(name);
    } else if (!PyErr_Occurred()) {
        name = PyObject_CallOneArg(self->name_of, key);
    }
    Py_DECREF(key);
    return name;
}

static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

static void set_slot(PyObject *object, Py_ssize_t offset, PyObject *value) {
    *(PyObject **)((char *)object + offset) = value; /* steals the reference */
}

static PyObject *none(void) { Py_RETURN_NONE; }

/* The (options, errors) pair of one well-formed DSS option (RFC 8684 §3.3), built as ``parse_dss``
 * builds it; NULL with no error set for anything else (a length that fits no layout): Python parses it. */
static PyObject *parse_dss(Batch *self, const unsigned char *o, Py_ssize_t length) {
    if (length < 4 || o[2] >> 4 != 2)
        return NULL;
    unsigned flags = o[3];
    int has_ack = flags & 0x01, ack_wide = flags & 0x02, has_map = flags & 0x04, dsn_wide = flags & 0x08;
    Py_ssize_t plain = 4 + (has_ack ? (ack_wide ? 8 : 4) : 0) + (has_map ? (dsn_wide ? 8 : 4) + 6 : 0);
    int checksummed = has_map && length == plain + 2;
    if (length != plain && !checksummed)
        return NULL;
    const unsigned char *at = o + 4;
    uint64_t data_ack = 0;
    if (has_ack) {
        data_ack = ack_wide ? be64(at) : be32(at);
        at += ack_wide ? 8 : 4;
    }
    uint64_t dsn = 0;
    if (has_map) {
        dsn = dsn_wide ? be64(at) : be32(at);
        at += dsn_wide ? 8 : 4;
    }
    PyObject *dss = self->dss_type->tp_alloc(self->dss_type, 0);
    if (dss == NULL)
        return NULL;
    PyObject *values[N_DSS_FIELDS] = {
        has_ack ? PyLong_FromUnsignedLongLong(data_ack) : none(),
        PyBool_FromLong(ack_wide),
        has_map ? PyLong_FromUnsignedLongLong(dsn) : none(),
        PyBool_FromLong(dsn_wide),
        has_map ? PyLong_FromUnsignedLong(be32(at)) : none(),
        has_map ? PyLong_FromLong(be16(at + 4)) : none(),
        checksummed ? PyLong_FromLong(be16(at + 6)) : none(),
        PyBool_FromLong(flags & 0x10),
        PyLong_FromLong((o[2] & 0x0F) << 3 | flags >> 5),
    };
    int failed = 0;
    for (int i = 0; i < N_DSS_FIELDS; i++) {
        set_slot(dss, self->dss_offsets[i], values[i]);
        failed |= values[i] == NULL;
    }
    if (failed) {
        Py_DECREF(dss);
        return NULL;
    }
    return Py_BuildValue("((N)())", dss);
}

static int remember(PyObject *memo, PyObject *key, PyObject *value) {
    if (PyDict_GET_SIZE(memo) >= MAX_SCANS)
        PyDict_Clear(memo);
    return PyDict_SetItem(memo, key, value);
}

/* ``scan`` of a TCP options field, as a new reference.  When the field walks cleanly (RFC 9293 §3.1:
 * every option but EOL and NOP has a length byte of at least 2 that stays inside the field), the scan
 * depends on the MPTCP options alone, so only their bytes are passed: the timestamps that change on
 * every segment then do not defeat the scan's memo.  Anything unusual passes the whole field. */
static PyObject *scan_options(Batch *self, const unsigned char *o, Py_ssize_t n, PyObject *options) {
    Py_ssize_t starts[MAX_SPANS], lengths[MAX_SPANS], total = 0, i = 0;
    int count = 0;
    while (i < n && o[i] != 0) {
        if (o[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
            return PyObject_CallOneArg(self->scan, options);
        if (o[i] == MPTCP_KIND) {
            if (count == MAX_SPANS)
                return PyObject_CallOneArg(self->scan, options);
            starts[count] = i, lengths[count] = o[i + 1], total += o[i + 1];
            count++;
        }
        i += o[i + 1];
    }
    if (count == 0) {
        Py_INCREF(self->no_options);
        return self->no_options;
    }
    PyObject *key = PyBytes_FromStringAndSize(NULL, total);
    if (key == NULL)
        return NULL;
    char *at = PyBytes_AS_STRING(key);
    for (int k = 0; k < count; k++) {
        memcpy(at, o + starts[k], (size_t)lengths[k]);
        at += lengths[k];
    }
    PyObject *scanned = PyDict_GetItemWithError(self->scans, key);
    if (scanned != NULL) {
        Py_INCREF(scanned);
    } else if (!PyErr_Occurred()) {
        scanned = count == 1 ? parse_dss(self, o + starts[0], lengths[0]) : NULL;
        if (scanned == NULL && !PyErr_Occurred())
            scanned = PyObject_CallOneArg(self->scan, key);
        if (scanned != NULL && remember(self->scans, key, scanned) < 0)
            Py_CLEAR(scanned);
    }
    Py_DECREF(key);
    return scanned;
}


/* The Segment of one record, NULL with no error set when the Python decoder must take it, NULL with an
 * error set on failure. */
static PyObject *segment(Batch *self, int linktype, long long frame, int64_t ts_ns, const unsigned char *d,
                         Py_ssize_t len) {
    Py_ssize_t off = link_offset(linktype, d, len);
    if (off < 0 || len < off + 40)
        return NULL;
    const unsigned char *ip = d + off;
    Py_ssize_t at, end, addr_size;
    const unsigned char *src, *dst;
    int version;
    if (ip[0] == 0x45 && ip[9] == TCP_PROTO) {
        uint16_t total = be16(ip + 2);
        if (total < 40 || (be16(ip + 6) & 0x3FFF))
            return NULL;
        version = 4, at = off + 20, end = off + total, src = ip + 12, dst = ip + 16, addr_size = 4;
    } else if ((ip[0] >> 4) == 6 && ip[6] == TCP_PROTO) {
        uint16_t length = be16(ip + 4);
        if (length == 0 || len < off + 60)
            return NULL;
        version = 6, at = off + 40, end = off + 40 + length, src = ip + 8, dst = ip + 24, addr_size = 16;
    } else {
        return NULL;
    }
    const unsigned char *tcp = d + at;
    Py_ssize_t header = (tcp[12] >> 4) * 4;
    if (header < 20 || at + header > end || len < at + header)
        return NULL;

    PyObject *seg = self->segment_type->tp_alloc(self->segment_type, 0);
    if (seg == NULL)
        return NULL;
    PyObject *options = PyBytes_FromStringAndSize((const char *)tcp + 20, header - 20);
    if (options == NULL)
        goto fail;
    set_slot(seg, self->offsets[F_OPTIONS], options);
    PyObject *scanned = scan_options(self, tcp + 20, header - 20, options);
    if (scanned == NULL)
        goto fail;
    if (!PyTuple_CheckExact(scanned) || PyTuple_GET_SIZE(scanned) != 2) {
        Py_DECREF(scanned);
        PyErr_SetString(PyExc_TypeError, "scan must return a pair");
        goto fail;
    }
    PyObject *mptcp = PyTuple_GET_ITEM(scanned, 0), *errors = PyTuple_GET_ITEM(scanned, 1);
    Py_INCREF(mptcp);
    Py_INCREF(errors);
    Py_DECREF(scanned);
    set_slot(seg, self->offsets[F_MPTCP], mptcp);
    set_slot(seg, self->offsets[F_ERRORS], errors);

    Py_ssize_t kept = end < len ? end : len;
    PyObject *values[] = {
        PyLong_FromLongLong(frame),
        PyFloat_FromDouble((double)ts_ns / 1e9),
        PyLong_FromLong(version),
        address(self, src, addr_size),
        address(self, dst, addr_size),
        PyLong_FromLong(be16(tcp)),
        PyLong_FromLong(be16(tcp + 2)),
        PyLong_FromUnsignedLong(be32(tcp + 4)),
        PyLong_FromUnsignedLong(be32(tcp + 8)),
        PyLong_FromLong(tcp[13]),
        PyLong_FromLong(be16(tcp + 14)),
        PyLong_FromSsize_t(end - at - header),
        PyBytes_FromStringAndSize((const char *)tcp + header, kept - at - header),
    };
    int failed = 0;
    for (int i = 0; i <= F_PAYLOAD; i++) {
        set_slot(seg, self->offsets[i], values[i]);
        failed |= values[i] == NULL;
    }
    if (!failed)
        return seg;
fail:
    Py_DECREF(seg); /* the type's dealloc clears whatever slots were set */
    return NULL;
}

/* The record for the Python decoder: (frame, ts_ns, interface, linktype, data, orig_len). */
static PyObject *raw_record(long long frame, int64_t ts_ns, long interface, int linktype, const char *d,
                            Py_ssize_t len, uint32_t orig_len) {
    return Py_BuildValue("(LLliy#k)", frame, (long long)ts_ns, interface, linktype, d, len,
                         (unsigned long)orig_len);
}

/* Append the Segment of one record to ``out``, or the raw record when Python must decode it. */
static int emit(Batch *self, PyObject *out, int linktype, long long frame, int64_t ts_ns, long interface,
                const char *data, Py_ssize_t caplen, uint32_t orig_len) {
    PyObject *item = segment(self, linktype, frame, ts_ns, (const unsigned char *)data, caplen);
    if (item == NULL) {
        if (PyErr_Occurred())
            return -1;
        item = raw_record(frame, ts_ns, interface, linktype, data, caplen, orig_len);
        if (item == NULL)
            return -1;
    }
    int appended = PyList_Append(out, item);
    Py_DECREF(item);
    return appended;
}

/* The arguments both methods start with: (buf, pos, frame, out, little, ...), seven in all. */
typedef struct {
    const char *buf;
    Py_ssize_t size, pos;
    long long frame;
    int little;
} Walk;

static int buffer_args(PyObject *const *args, Py_ssize_t nargs, Walk *w) {
    if (nargs != 7 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1]) || !PyLong_Check(args[2]) ||
        !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "expected (buf: bytes, pos: int, frame: int, out: list, ...)");
        return -1;
    }
    w->buf = PyBytes_AS_STRING(args[0]);
    w->size = PyBytes_GET_SIZE(args[0]);
    w->pos = PyLong_AsSsize_t(args[1]);
    w->frame = PyLong_AsLongLong(args[2]);
    w->little = PyObject_IsTrue(args[4]);
    if (((w->pos == -1 || w->frame == -1) && PyErr_Occurred()) || w->little < 0)
        return -1;
    if (w->pos < 0 || w->pos > w->size) {
        PyErr_SetString(PyExc_ValueError, "pos outside the buffer");
        return -1;
    }
    return 0;
}

/* pcap(buf, pos, frame, out, little, ns_per_unit, linktype) -> (pos, frame) */
static PyObject *Batch_pcap(Batch *self, PyObject *const *args, Py_ssize_t nargs) {
    Walk w;
    if (buffer_args(args, nargs, &w) < 0)
        return NULL;
    long long ns_per_unit = PyLong_AsLongLong(args[5]);
    long linktype = PyLong_AsLong(args[6]);
    if (PyErr_Occurred())
        return NULL;
    if (ns_per_unit < 1 || ns_per_unit > 1000) {
        PyErr_SetString(PyExc_ValueError, "ns_per_unit must be 1 to 1000");
        return NULL;
    }
    while (w.size - w.pos >= RECORD_HEADER) {
        const unsigned char *h = (const unsigned char *)w.buf + w.pos;
        uint32_t caplen = u32(w.little, h + 8);
        if (caplen > MAX_RECORD || w.size - w.pos - RECORD_HEADER < (Py_ssize_t)caplen)
            break;
        int64_t ts_ns = (int64_t)u32(w.little, h) * 1000000000;
        ts_ns += (int64_t)u32(w.little, h + 4) * ns_per_unit;
        w.frame += 1;
        if (emit(self, args[3], (int)linktype, w.frame, ts_ns, 0, w.buf + w.pos + RECORD_HEADER, caplen,
                 u32(w.little, h + 12)) < 0)
            return NULL;
        w.pos += RECORD_HEADER + (Py_ssize_t)caplen;
    }
    return Py_BuildValue("(nL)", w.pos, w.frame);
}

/* pcapng(buf, pos, frame, out, little, interfaces, last_ns) -> (pos, frame, last_ns)
 *
 * Enhanced Packet Blocks only, of interfaces in ``interfaces`` (the reader's (linktype, snaplen, mul, div,
 * offset_ns) per interface of the section, time = ts * mul // div + offset_ns) with a whole resolution
 * (div 1).
 * It stops at any other block, at a block cut by the buffer's end, at a trailing length that differs or a
 * packet that overruns its block: the Python reader takes that block (and its note). */
static PyObject *Batch_pcapng(Batch *self, PyObject *const *args, Py_ssize_t nargs) {
    Walk w;
    if (buffer_args(args, nargs, &w) < 0)
        return NULL;
    PyObject *interfaces = args[5];
    int beyond = 0; /* a time past 64 bits (made by Python): returned as it came unless a packet follows */
    long long last_ns = PyLong_AsLongLongAndOverflow(args[6], &beyond);
    if (last_ns == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_Check(interfaces) && !PyTuple_Check(interfaces)) {
        PyErr_SetString(PyExc_TypeError, "interfaces must be a list or a tuple");
        return NULL;
    }
    while (w.size - w.pos >= 32) {
        const unsigned char *b = (const unsigned char *)w.buf + w.pos;
        uint32_t length = u32(w.little, b + 4);
        if (u32(w.little, b) != EPB || length < 32 || length % 4 || length > MAX_RECORD ||
            w.size - w.pos < length || u32(w.little, b + length - 4) != length)
            break;
        uint32_t ifindex = u32(w.little, b + 8), caplen = u32(w.little, b + 20);
        if (ifindex >= (uint32_t)PySequence_Fast_GET_SIZE(interfaces) || (uint64_t)caplen + 32 > length)
            break;
        long long iface[4];
        int unusual = interface_fields(PySequence_Fast_GET_ITEM(interfaces, ifindex), iface);
        if (unusual < 0)
            return NULL;
        if (unusual)
            break;
        uint64_t ts = (uint64_t)u32(w.little, b + 12) << 32 | u32(w.little, b + 16);
        long long ns;
        if (iface[2] != 1 || ts > INT64_MAX || __builtin_mul_overflow((long long)ts, iface[1], &ns) ||
            __builtin_add_overflow(ns, iface[3], &ns))
            break;
        w.frame += 1;
        if (emit(self, args[3], (int)iface[0], w.frame, ns, (long)ifindex, w.buf + w.pos + 28, caplen,
                 u32(w.little, b + 24)) < 0)
            return NULL;
        last_ns = ns, beyond = 0;
        w.pos += length;
    }
    if (beyond)
        return Py_BuildValue("(nLO)", w.pos, w.frame, args[6]);
    return Py_BuildValue("(nLL)", w.pos, w.frame, last_ns);
}

/* Each field's slot offset in ``type``; -1 with TypeError when one is not a plain object slot of it. */
static int slot_offsets(PyObject *type, const char *const *names, int n, Py_ssize_t *offsets) {
    for (int i = 0; i < n; i++) {
        PyObject *descr = PyObject_GetAttrString(type, names[i]);
        if (descr == NULL)
            return -1;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX &&
                 ((PyMemberDescrObject *)descr)->d_common.d_type == (PyTypeObject *)type;
        if (ok)
            offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s is not a slot of %R", names[i], type);
            return -1;
        }
    }
    return 0;
}

static int Batch_init(Batch *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"segment_type", "dss_type", "names", "name_of", "scan", NULL};
    PyObject *type, *dss_type, *names, *name_of, *scan;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!OO", keywords, &PyType_Type, &type, &PyType_Type,
                                     &dss_type, &PyDict_Type, &names, &name_of, &scan))
        return -1;
    if (slot_offsets(type, FIELDS, N_FIELDS, self->offsets) < 0 ||
        slot_offsets(dss_type, DSS_FIELDS, N_DSS_FIELDS, self->dss_offsets) < 0)
        return -1;
    PyObject *no_options = Py_BuildValue("(()())");
    PyObject *scans = PyDict_New();
    if (no_options == NULL || scans == NULL) {
        Py_XDECREF(no_options);
        Py_XDECREF(scans);
        return -1;
    }
    Py_INCREF(type);
    Py_INCREF(dss_type);
    Py_INCREF(names);
    Py_INCREF(name_of);
    Py_INCREF(scan);
    Py_XSETREF(self->segment_type, (PyTypeObject *)type);
    Py_XSETREF(self->dss_type, (PyTypeObject *)dss_type);
    Py_XSETREF(self->names, names);
    Py_XSETREF(self->name_of, name_of);
    Py_XSETREF(self->scan, scan);
    Py_XSETREF(self->no_options, no_options);
    Py_XSETREF(self->scans, scans);
    return 0;
}

static void Batch_dealloc(Batch *self) {
    Py_XDECREF(self->segment_type);
    Py_XDECREF(self->dss_type);
    Py_XDECREF(self->scans);
    Py_XDECREF(self->names);
    Py_XDECREF(self->name_of);
    Py_XDECREF(self->scan);
    Py_XDECREF(self->no_options);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Batch_methods[] = {
    {"pcap", (PyCFunction)(void (*)(void))Batch_pcap, METH_FASTCALL,
     "pcap(buf, pos, frame, out, little, ns_per_unit, linktype) -> (pos, frame): the whole records."},
    {"pcapng", (PyCFunction)(void (*)(void))Batch_pcapng, METH_FASTCALL,
     "pcapng(buf, pos, frame, out, little, interfaces, last_ns) -> (pos, frame, last_ns): the whole EPBs."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mptcpspec.capture._speedups.Batch",
    .tp_basicsize = sizeof(Batch),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decodes the whole packet records of a capture buffer (the reader's native fast path).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Batch_init,
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_methods = Batch_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_speedups",
    .m_doc = "The capture reader's optional native fast path.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    if (PyType_Ready(&BatchType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&BatchType);
    if (PyModule_AddObject(m, "Batch", (PyObject *)&BatchType) < 0) {
        Py_DECREF(&BatchType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
