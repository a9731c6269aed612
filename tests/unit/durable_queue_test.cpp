// The durable queue's journal on a real LMDB file: what is appended and not
// done comes back after a reopen, in order and whole; what is refused
// (a second process, a truncated file, a record that does not read back,
// a full file) is refused with the file's name.
#include "manager/durable_queue.hpp"
#include "support/temp_file.hpp"

#include <catch2/catch.hpp>
#include <lmdb.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace edrid;

namespace {
EventPtr job(std::uint64_t n, std::size_t pad = 0) {
  // MessagePack: a map {"n": n, "pad": "..."} (n < 2^32).
  std::string bytes = "\x82\xa1n\xce";
  for (int i = 3; i >= 0; --i) bytes.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  bytes += "\xa3pad\xdb";
  for (int i = 3; i >= 0; --i) bytes.push_back(static_cast<char>((pad >> (8 * i)) & 0xff));
  bytes.append(pad, 'x');
  const WireText text{"jobs.run", "router-a", "producer", ""};
  EventPtr ev(event_from_bytes("jobs.run", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), &text));
  ev->header.kind = EDRI_KIND_NOTIFICATION;
  ev->header.id = edri_id128{0xabc, n};
  ev->header.trace_id = edri_id128{0x7, n};
  ev->header.priority = static_cast<std::int32_t>(n % 3);
  ev->header.timestamp_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(n);
  ev->shareable = true;
  return ev;
}

std::uint64_t n_of(const JournalRecord& r) { return r.event->header.id.lo; }

DurableSettings settings_in(const std::filesystem::path& dir, SyncPolicy sync = SyncPolicy::always) {
  DurableSettings s;
  s.enabled = true;
  s.sync = sync;
  s.dir = dir;
  return s;
}
}  // namespace

TEST_CASE("a durable queue gives back, after a reopen, what was appended and not done, oldest first and whole") {
  probe::TempDir tmp;
  const auto dir = tmp.path() / "q";
  for (SyncPolicy sync : {SyncPolicy::always, SyncPolicy::batch, SyncPolicy::os}) {
    CAPTURE(to_string(sync));
    std::filesystem::remove_all(dir);
    {
      auto q = DurableQueue::open(dir, settings_in(dir, sync));
      CHECK(q->take_unqueued().empty());
      for (std::uint64_t n = 1; n <= 5; ++n) {
        std::string err;
        REQUIRE(q->append(*job(n), static_cast<std::int32_t>(10 * n), &err) == DurableQueue::Append::written);
      }
      std::string err;
      CHECK(q->append(*job(3), 0, &err) == DurableQueue::Append::known);
      q->done(edri_id128{0xabc, 2});
      EventPtr again = job(4);
      event_text(*again).attempt = 3;
      EventText& t = event_text(*again);
      t.dedupe_id = edri_id128{1, 2};
      t.has_dedupe = true;
      q->retried(*again, 40);
      CHECK(DurableQueue::open(dir, settings_in(dir, sync)) == q);  // one object per directory
    }
    auto q = DurableQueue::open(dir, settings_in(dir, sync));
    auto back = q->take_unqueued();
    REQUIRE(back.size() == 4);
    CHECK(n_of(back[0]) == 1);
    CHECK(n_of(back[1]) == 3);
    CHECK(n_of(back[2]) == 4);
    CHECK(n_of(back[3]) == 5);
    const Event& four = *back[2].event;
    CHECK(back[2].priority == 40);
    CHECK(event_attempt(four) == 3);
    CHECK(four.text->has_dedupe);
    CHECK(four.text->dedupe_id.lo == 2);
    CHECK(std::string(four.header.type) == "jobs.run");
    CHECK(std::string(four.header.origin_router) == "router-a");
    CHECK(std::string(four.header.sender) == "producer");
    CHECK(four.header.trace_id.lo == 4);
    CHECK(four.header.priority == 1);
    CHECK(four.shareable);
    const auto* enc = event_encoded(back[0].event.get());
    REQUIRE(enc);
    const EventPtr original = job(1);
    const auto* expect = event_encoded(original.get());
    CHECK(std::string(reinterpret_cast<const char*>(enc->data()), enc->size()) ==
          std::string(reinterpret_cast<const char*>(expect->data()), expect->size()));
    // Taken once: queued now, not handed out again until released.
    CHECK(q->take_unqueued().empty());
    q->release(edri_id128{0xabc, 5});
    auto five = q->take_unqueued();
    REQUIRE(five.size() == 1);
    CHECK(n_of(five[0]) == 5);
    CHECK(q->stats().depth == 4);
  }
}

TEST_CASE("a second process cannot open a durable queue that one process holds") {
  probe::TempDir tmp;
  const auto dir = tmp.path() / "q";
  auto q = DurableQueue::open(dir, settings_in(dir));
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      DurableQueue::open(dir, settings_in(dir));
      ::_exit(1);
    } catch (const DurableError& e) {
      ::_exit(std::string(e.what()).find("another edrid process") != std::string::npos ? 0 : 2);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a durable queue refuses a truncated file and a record that does not read back, naming the file") {
  probe::TempDir tmp;
  const auto dir = tmp.path() / "q";
  {
    auto q = DurableQueue::open(dir, settings_in(dir));
    std::string err;
    for (std::uint64_t n = 1; n <= 200; ++n) REQUIRE(q->append(*job(n, 300), 0, &err) == DurableQueue::Append::written);
  }
  const auto data = dir / "data.mdb";
  SECTION("truncated") {
    std::filesystem::resize_file(data, std::filesystem::file_size(data) / 2);
    CHECK_THROWS_WITH(DurableQueue::open(dir, settings_in(dir)),
                      Catch::Contains(data.string()) && Catch::Contains("truncated"));
  }
  SECTION("a record that is not one") {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, nullptr, MDB_INTEGERKEY, &dbi) == 0);
    std::uint64_t key = 7;
    MDB_val k{sizeof key, &key};
    char junk[] = "\x05\x00\x00\x00\x01garbage";
    MDB_val v{sizeof junk - 1, junk};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    CHECK_THROWS_WITH(DurableQueue::open(dir, settings_in(dir)),
                      Catch::Contains(data.string()) && Catch::Contains("record 7 does not read back"));
  }
}

TEST_CASE("a full durable queue refuses new events, keeps what it has, and takes events again once some are done") {
  probe::TempDir tmp;
  const auto dir = tmp.path() / "q";
  DurableSettings s = settings_in(dir, SyncPolicy::os);
  s.max_bytes = 1 << 20;
  auto q = DurableQueue::open(dir, s);
  std::uint64_t n = 0;
  std::string err;
  DurableQueue::Append last = DurableQueue::Append::written;
  while (n < 10'000 && last == DurableQueue::Append::written) last = q->append(*job(++n, 4000), 0, &err);
  REQUIRE(last == DurableQueue::Append::full);
  CHECK_THAT(err, Catch::Contains("max_bytes"));
  const std::uint64_t kept = n - 1;
  CHECK(kept > 100);
  CHECK(q->stats().full == 1);
  CHECK(q->stats().depth == kept);
  for (std::uint64_t i = 1; i <= 50; ++i) q->done(edri_id128{0xabc, i});
  CHECK(q->append(*job(++n, 4000), 0, &err) == DurableQueue::Append::written);
  q.reset();
  auto back = DurableQueue::open(dir, s)->take_unqueued();
  REQUIRE(back.size() == kept - 50 + 1);
  CHECK(n_of(back.front()) == 51);
  CHECK(n_of(back.back()) == n);
}

TEST_CASE("a durable queue record laid out byte by byte as docs/protocol.md says reads back, and a changed byte "
          "is refused") {
  // Version 1, a notification, attempt 1, timestamp 1, type and payload type
  // a.b, origin r, sender s, no message, payload {"a": 1}.
  std::string rec("\x6b\x00\x00\x00\x01\x00\x00", 7);
  rec += std::string(4 + 4, '\0') + std::string("\x01\x00\x00\x00", 4);  // priority, header priority, attempt
  rec += std::string(48, '\0');                                            // id, trace id, correlation id
  rec += std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8) + std::string(8 + 4, '\0');  // timestamp, deadline, status
  rec += std::string("\x03" "a.b" "\x03" "a.b" "\x01" "r" "\x01" "s", 12);
  rec += std::string("\x00\x00\x00\x00\x04\x00\x00\x00\x81\xa1\x61\x01", 12);  // message, payload
  REQUIRE(rec.size() == 0x6b + 4);
  const auto* p = reinterpret_cast<const std::uint8_t*>(rec.data());
  std::string why;
  auto r = decode_journal_record(p, rec.size(), &why);
  INFO(why);
  REQUIRE(r);
  CHECK(r->event->header.kind == EDRI_KIND_NOTIFICATION);
  CHECK(std::string(r->event->header.type) == "a.b");
  CHECK(std::string(r->event->header.sender) == "s");
  CHECK(r->event->header.timestamp_ns == 1);
  std::string again;
  REQUIRE(encode_journal_record(*r->event, r->priority, again, &why));
  CHECK(again == rec);
  std::string v2 = rec;
  v2[4] = 2;
  CHECK_FALSE(decode_journal_record(reinterpret_cast<const std::uint8_t*>(v2.data()), v2.size(), &why));
  CHECK_THAT(why, Catch::Contains("record version 2"));
  CHECK_FALSE(decode_journal_record(p, rec.size() - 1, &why));
  CHECK_THAT(why, Catch::Contains("its length says"));
}

TEST_CASE("a durable queue on a disk that refuses writes refuses new events, keeps what it has, and takes events "
          "again once the disk does") {
  probe::TempDir tmp;
  const auto dir = tmp.path() / "q";
  // RLIMIT_FSIZE makes writes past a size fail (EFBIG) as a full disk
  // fails them (ENOSPC); in a child, so the limit binds nothing else.
  const pid_t child = ::fork();
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    int step = 10;
    try {
      auto q = DurableQueue::open(dir, settings_in(dir, SyncPolicy::os));
      rlimit lim{};
      ::getrlimit(RLIMIT_FSIZE, &lim);
      const rlimit small{512 * 1024, lim.rlim_max};
      if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(step);
      std::uint64_t n = 0;
      std::string err;
      DurableQueue::Append last = DurableQueue::Append::written;
      while (n < 5000 && last == DurableQueue::Append::written) last = q->append(*job(++n, 2000), 0, &err);
      step = 11;
      if (last != DurableQueue::Append::full || n < 50 || err.find("disk") == std::string::npos) ::_exit(step);
      step = 12;
      if (q->append(*job(++n, 2000), 0, &err) != DurableQueue::Append::full) ::_exit(step);
      ::setrlimit(RLIMIT_FSIZE, &lim);  // space is back
      step = 13;
      if (q->append(*job(++n, 2000), 0, &err) != DurableQueue::Append::written) ::_exit(step);
      const std::uint64_t kept = q->stats().depth;
      q.reset();
      step = 14;
      auto back = DurableQueue::open(dir, settings_in(dir, SyncPolicy::os))->take_unqueued();
      if (back.size() != kept || n_of(back.back()) != n) ::_exit(step);
      ::_exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "step %d: %s\n", step, e.what());
      ::_exit(step + 50);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
