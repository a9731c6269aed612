/* nats-bench: the NATS side of bench/compare_nats.sh, with libnats against a
 * running nats-server. Prints one JSON line per scenario, like edri-bench.
 *   nats-bench URL notify N SIZE    publisher -> subscriber, messages/s
 *   nats-bench URL request N SIZE   sequential request/reply, p50/p99 us
 *   nats-bench URL queue N SIZE     publisher -> a queue group of two
 *                                   subscribers (core NATS), messages/s
 *   nats-bench URL jetstream N SIZE publisher (async, acknowledged) -> a
 *                                   work-queue stream in memory -> one
 *                                   durable consumer shared by two
 *                                   subscribers, each message acked
 *                                   explicitly; messages/s end to end
 *                                   (nats-server needs -js)
 *   nats-bench URL jetstream-file N SIZE
 *                                   the same with the stream on disk (file
 *                                   storage: nats-server writes each message
 *                                   to the OS and fsyncs every sync_interval,
 *                                   2 min by default)
 *   nats-bench URL sub N SIZE       a subscriber alone (multiprocess.sh): says
 *                                   "ready" on stdout, then counts N messages;
 *                                   messages/s from the first arrival to the
 *                                   last, as the edri sink measures
 *   nats-bench URL pub N SIZE       a publisher alone: N messages, flushed
 * Publisher and subscriber use separate connections, so every message makes
 * the same two TCP hops as an edri event through a switch. */
#include <nats/nats.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_long g_received;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_msg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure) {
  (void)nc, (void)sub, (void)closure;
  atomic_fetch_add(&g_received, 1);
  natsMsg_Destroy(msg);
}

static _Atomic double g_first, g_last;

static double now_s(void);

static void on_timed_msg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure) {
  (void)nc, (void)sub, (void)closure;
  const double t = now_s();
  if (atomic_fetch_add(&g_received, 1) == 0) atomic_store(&g_first, t);
  atomic_store(&g_last, t);
  natsMsg_Destroy(msg);
}

static void on_acked_msg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure) {
  (void)nc, (void)sub, (void)closure;
  natsMsg_Ack(msg, NULL);
  atomic_fetch_add(&g_received, 1);
  natsMsg_Destroy(msg);
}

static void on_request(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure) {
  (void)sub, (void)closure;
  natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void check(natsStatus s, const char* what) {
  if (s != NATS_OK) {
    fprintf(stderr, "nats-bench: %s: %s\n", what, natsStatus_GetText(s));
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: nats-bench URL notify|request|queue|jetstream|jetstream-file|pub|sub N SIZE\n");
    return 2;
  }
  const char* url = argv[1];
  const char* mode = argv[2];
  const long n = atol(argv[3]);
  const int size = atoi(argv[4]);
  char* payload = malloc((size_t)size);
  memset(payload, 'x', (size_t)size);
  natsConnection *pub = NULL, *sub = NULL;
  natsSubscription* s = NULL;
  // SendAsap: without it libnats's flusher thread batches writes for up to
  // a millisecond, which would make NATS look slow on sequential requests.
  natsOptions* opts = NULL;
  check(natsOptions_Create(&opts), "options");
  check(natsOptions_SetURL(opts, url), "options");
  check(natsOptions_SetSendAsap(opts, strcmp(argv[2], "request") == 0), "options");
  check(natsConnection_Connect(&pub, opts), "connect");
  check(natsConnection_Connect(&sub, opts), "connect");

  if (strcmp(mode, "queue") == 0 || strcmp(mode, "jetstream") == 0 || strcmp(mode, "jetstream-file") == 0) {
    const int on_file = strcmp(mode, "jetstream-file") == 0;
    const int js = on_file || strcmp(mode, "jetstream") == 0;
    natsConnection* sub2 = NULL;
    natsSubscription* s2 = NULL;
    check(natsConnection_Connect(&sub2, opts), "connect");
    jsCtx *jpub = NULL, *jsub = NULL, *jsub2 = NULL;
    if (js) {
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.PublishAsync.MaxPending = 4096;
      check(natsConnection_JetStream(&jpub, pub, &jo), "jetstream");
      check(natsConnection_JetStream(&jsub, sub, NULL), "jetstream");
      check(natsConnection_JetStream(&jsub2, sub2, NULL), "jetstream");
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      const char* subjects[] = {"bench.work"};
      cfg.Name = "BENCH";
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Storage = on_file ? js_FileStorage : js_MemoryStorage;
      cfg.Retention = js_WorkQueuePolicy;
      jsErrCode jerr = 0;
      check(js_AddStream(NULL, jpub, &cfg, NULL, &jerr), "add stream");
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = "BENCH";
      so.Queue = "workers";
      so.ManualAck = true;
      so.Config.Durable = "workers";
      so.Config.AckPolicy = js_AckExplicit;
      so.Config.MaxAckPending = 65536;
      check(js_Subscribe(&s, jsub, "bench.work", on_acked_msg, NULL, NULL, &so, &jerr), "subscribe");
      check(js_Subscribe(&s2, jsub2, "bench.work", on_acked_msg, NULL, NULL, &so, &jerr), "subscribe");
    } else {
      check(natsConnection_QueueSubscribe(&s, sub, "bench.work", "workers", on_msg, NULL), "subscribe");
      check(natsConnection_QueueSubscribe(&s2, sub2, "bench.work", "workers", on_msg, NULL), "subscribe");
    }
    natsSubscription_SetPendingLimits(s, -1, -1);
    natsSubscription_SetPendingLimits(s2, -1, -1);
    check(natsConnection_Flush(sub), "flush");
    check(natsConnection_Flush(sub2), "flush");
    const double t0 = now_s();
    for (long i = 0; i < n; ++i) {
      if (js) {
        check(js_PublishAsync(jpub, "bench.work", payload, size, NULL), "publish");
      } else {
        check(natsConnection_Publish(pub, "bench.work", payload, size), "publish");
      }
    }
    if (js) {
      check(js_PublishAsyncComplete(jpub, NULL), "publish complete");
    } else {
      check(natsConnection_Flush(pub), "flush");
    }
    while (atomic_load(&g_received) < n && now_s() - t0 < 120) nats_Sleep(1);
    const double secs = now_s() - t0;
    const long got = atomic_load(&g_received);
    printf("{\"scenario\":\"nats-%s\",\"size\":%d,\"events\":%ld,\"seconds\":%.6f,\"events_per_s\":%.1f,"
           "\"lost\":%ld}\n",
           on_file ? "jetstream-file" : js ? "jetstream" : "queue", size, n, secs, (double)got / secs, n - got);
    natsSubscription_Destroy(s2);
    s2 = NULL;
    if (js) {
      jsErrCode jerr = 0;
      js_DeleteStream(jpub, "BENCH", NULL, &jerr);  // the next run starts from an empty stream
      jsCtx_Destroy(jpub);
      jsCtx_Destroy(jsub);
      jsCtx_Destroy(jsub2);
    }
    natsConnection_Destroy(sub2);
  } else if (strcmp(mode, "sub") == 0) {
    check(natsConnection_Subscribe(&s, sub, "bench.blob", on_timed_msg, NULL), "subscribe");
    natsSubscription_SetPendingLimits(s, -1, -1);
    check(natsConnection_Flush(sub), "flush");
    printf("ready\n");
    fflush(stdout);
    double idle_since = now_s();
    long seen = 0;
    while (atomic_load(&g_received) < n) {
      nats_Sleep(1);
      const long got = atomic_load(&g_received);
      if (got != seen) seen = got, idle_since = now_s();
      if (now_s() - idle_since > 20) break;
    }
    const long got = atomic_load(&g_received);
    const double secs = atomic_load(&g_last) - atomic_load(&g_first);
    printf("{\"scenario\":\"nats-3proc\",\"size\":%d,\"events\":%ld,\"seconds\":%.6f,\"events_per_s\":%.1f,"
           "\"lost\":%ld}\n", size, n, secs, secs > 0 ? (double)got / secs : 0.0, n - got);
  } else if (strcmp(mode, "pub") == 0) {
    for (long i = 0; i < n; ++i) check(natsConnection_Publish(pub, "bench.blob", payload, size), "publish");
    check(natsConnection_Flush(pub), "flush");
  } else if (strcmp(mode, "notify") == 0) {
    check(natsConnection_Subscribe(&s, sub, "bench.blob", on_msg, NULL), "subscribe");
    natsSubscription_SetPendingLimits(s, -1, -1);
    check(natsConnection_Flush(sub), "flush");
    const double t0 = now_s();
    for (long i = 0; i < n; ++i) check(natsConnection_Publish(pub, "bench.blob", payload, size), "publish");
    check(natsConnection_Flush(pub), "flush");
    while (atomic_load(&g_received) < n && now_s() - t0 < 120) nats_Sleep(1);
    const double secs = now_s() - t0;
    const long got = atomic_load(&g_received);
    printf("{\"scenario\":\"nats-notify\",\"size\":%d,\"events\":%ld,\"seconds\":%.6f,\"events_per_s\":%.1f,\"lost\":%ld}\n",
           size, n, secs, (double)got / secs, n - got);
  } else {
    check(natsConnection_Subscribe(&s, sub, "bench.req", on_request, NULL), "subscribe");
    check(natsConnection_Flush(sub), "flush");
    double* us = malloc(sizeof(double) * (size_t)n);
    long failed = 0;
    const double t0 = now_s();
    for (long i = 0; i < n; ++i) {
      natsMsg* reply = NULL;
      const double a = now_s();
      if (natsConnection_Request(&reply, pub, "bench.req", payload, size, 5000) != NATS_OK) ++failed;
      us[i] = (now_s() - a) * 1e6;
      natsMsg_Destroy(reply);
    }
    const double secs = now_s() - t0;
    qsort(us, (size_t)n, sizeof(double), cmp);
    printf("{\"scenario\":\"nats-request\",\"size\":%d,\"requests\":%ld,\"seconds\":%.6f,\"requests_per_s\":%.1f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"failed\":%ld}\n",
           size, n, secs, (double)n / secs, us[(size_t)(0.5 * (double)(n - 1))], us[(size_t)(0.99 * (double)(n - 1))],
           failed);
    free(us);
  }
  natsSubscription_Destroy(s);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub);
  natsOptions_Destroy(opts);
  free(payload);
  return 0;
}
