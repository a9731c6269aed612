#include "kv_backend.hpp"

#include <lmdb.h>

#include <filesystem>
#include <stdexcept>

namespace edri_store {
namespace {

std::vector<std::uint8_t> encode(const Entry& e) {
  return nlohmann::json::to_msgpack(nlohmann::json{{"v", e.value}, {"x", e.expires_ms}});
}

Entry decode(const MDB_val& v) {
  const auto* p = static_cast<const std::uint8_t*>(v.mv_data);
  auto j = nlohmann::json::from_msgpack(p, p + v.mv_size);
  return Entry{j.at("v"), j.value("x", std::int64_t{0})};
}

class MemoryBackend final : public Backend {
 public:
  std::optional<Entry> get(const std::string& key) override {
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& key, const Entry& e) override { map_[key] = e; }
  bool erase(const std::string& key) override { return map_.erase(key) > 0; }
  void visit(const std::string& prefix, const Visitor& fn) override {
    for (auto it = map_.lower_bound(prefix); it != map_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0 || !fn(it->first, it->second)) break;
    }
  }
  Entry update(const std::string& key, const std::function<Entry(std::optional<Entry>)>& change) override {
    Entry e = change(get(key));
    map_[key] = e;
    return e;
  }

 private:
  std::map<std::string, Entry> map_;
};

void check(int rc, const std::string& what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(what + ": " + mdb_strerror(rc));
}

// A write transaction aborted unless committed.
class Txn {
 public:
  Txn(MDB_env* env, unsigned flags) { check(mdb_txn_begin(env, nullptr, flags, &txn_), "lmdb begin"); }
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  void commit() {
    const int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    check(rc, "lmdb commit");
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

MDB_val val(const std::string& s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

class LmdbBackend final : public Backend {
 public:
  LmdbBackend(const std::string& path, std::size_t map_size) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) throw std::runtime_error("store path " + path + ": " + ec.message());
    check(mdb_env_create(&env_), "lmdb create");
    try {
      check(mdb_env_set_mapsize(env_, map_size), "lmdb map size");
      check(mdb_env_open(env_, path.c_str(), 0, 0640), "lmdb open " + path);
      Txn t(env_, 0);
      check(mdb_dbi_open(t.get(), nullptr, 0, &dbi_), "lmdb dbi");
      t.commit();
    } catch (...) {
      mdb_env_close(env_);
      throw;
    }
  }
  ~LmdbBackend() override { mdb_env_close(env_); }

  std::optional<Entry> get(const std::string& key) override {
    Txn t(env_, MDB_RDONLY);
    MDB_val k = val(key), v;
    const int rc = mdb_get(t.get(), dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, "lmdb get");
    return decode(v);
  }
  void put(const std::string& key, const Entry& e) override {
    Txn t(env_, 0);
    write(t, key, e);
    t.commit();
  }
  bool erase(const std::string& key) override {
    Txn t(env_, 0);
    MDB_val k = val(key);
    const int rc = mdb_del(t.get(), dbi_, &k, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    check(rc, "lmdb del");
    t.commit();
    return true;
  }
  void visit(const std::string& prefix, const Visitor& fn) override {
    Txn t(env_, MDB_RDONLY);
    MDB_cursor* c = nullptr;
    check(mdb_cursor_open(t.get(), dbi_, &c), "lmdb cursor");
    struct Close {
      MDB_cursor* c;
      ~Close() { mdb_cursor_close(c); }
    } close{c};
    MDB_val k = val(prefix), v;
    int rc = prefix.empty() ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS) {
      std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (key.compare(0, prefix.size(), prefix) != 0 || !fn(std::move(key), decode(v))) break;
      rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
  }
  std::size_t max_key_bytes() const override { return static_cast<std::size_t>(mdb_env_get_maxkeysize(env_)); }
  Entry update(const std::string& key, const std::function<Entry(std::optional<Entry>)>& change) override {
    Txn t(env_, 0);
    MDB_val k = val(key), v;
    std::optional<Entry> old;
    const int rc = mdb_get(t.get(), dbi_, &k, &v);
    if (rc == MDB_SUCCESS) {
      old = decode(v);
    } else if (rc != MDB_NOTFOUND) {
      check(rc, "lmdb get");
    }
    Entry e = change(std::move(old));
    write(t, key, e);
    t.commit();
    return e;
  }

 private:
  void write(Txn& t, const std::string& key, const Entry& e) {
    const auto bytes = encode(e);
    MDB_val k = val(key), v{bytes.size(), const_cast<std::uint8_t*>(bytes.data())};
    check(mdb_put(t.get(), dbi_, &k, &v, 0), "lmdb put");
  }

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_memory_backend() { return std::make_unique<MemoryBackend>(); }

std::unique_ptr<Backend> make_lmdb_backend(const std::string& path, std::size_t map_size) {
  return std::make_unique<LmdbBackend>(path, map_size);
}

}  // namespace edri_store
