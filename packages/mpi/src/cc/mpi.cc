// The MPI collectives supcon needs, over the MPI C API only (Open MPI and MPICH both build it).
// Every call blocks the JavaScript main thread: MPI is initialised MPI_THREAD_FUNNELED from that
// thread, and every later call comes from it. Arguments are validated in TypeScript (src/mpi.ts);
// the checks here only keep a wrong call from crashing the process.
#include <dlfcn.h>
#include <mpi.h>
#include <napi.h>

#include <unistd.h>

#include <climits>
#include <cstring>
#include <string>
#include <vector>

namespace {

MPI_Comm local_comm = MPI_COMM_NULL;

void Check(const Napi::Env& env, int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Napi::Error::New(env, std::string(what) + " failed: " + std::string(text, length));
}

bool Initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

bool Finalized() {
  int flag = 0;
  MPI_Finalized(&flag);
  return flag != 0;
}

void RequireActive(const Napi::Env& env, const char* what) {
  if (!Initialized() || Finalized())
    throw Napi::Error::New(env, std::string(what) + ": MPI is not initialised (call init() first) or already finalised");
}

// Node loads an addon with RTLD_LOCAL, so libmpi's symbols are not visible to the plugins that
// Open MPI dlopens later (mca_*.so), which then fail with "undefined symbol". Re-opening the very
// library that MPI_Init lives in with RTLD_GLOBAL (RTLD_NOLOAD: it is already loaded) makes them
// visible, whatever its file name (libmpi.so.40 for Open MPI 4, libmpi.so.12 for MPICH).
std::string PromoteLibmpi() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) == 0 || info.dli_fname == nullptr)
    return "dladdr found no library for MPI_Init_thread";
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr) {
    const char* why = dlerror();
    return std::string("dlopen(") + info.dli_fname + ", RTLD_GLOBAL) failed: " + (why ? why : "?");
  }
  return "";
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Finalized()) throw Napi::Error::New(env, "MPI was already finalised in this process; it cannot be initialised again");
  if (!Initialized()) {
    std::string promote = PromoteLibmpi();
    if (!promote.empty()) throw Napi::Error::New(env, "cannot prepare libmpi for its plugins: " + promote);
    int provided = 0;
    Check(env, MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (thrown in JavaScript) instead of aborting the job from inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    Check(env, MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &local_comm),
          "MPI_Comm_split_type");
    if (provided < MPI_THREAD_FUNNELED)
      throw Napi::Error::New(env, "this MPI library does not provide MPI_THREAD_FUNNELED");
  }
  int provided = 0;
  MPI_Query_thread(&provided);
  return Napi::Number::New(env, provided);
}

Napi::Value Rank(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), "rank");
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Size(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), "size");
  int s = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return Napi::Number::New(info.Env(), s);
}

Napi::Value LocalRank(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), "localRank");
  int r = 0;
  MPI_Comm_rank(local_comm, &r);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value LocalSize(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), "localSize");
  int s = 0;
  MPI_Comm_size(local_comm, &s);
  return Napi::Number::New(info.Env(), s);
}

struct Buffer {
  void* data;
  size_t length;  // elements
  MPI_Datatype type;
  size_t elementBytes;
  napi_typedarray_type kind;
};

Buffer View(const Napi::Env& env, const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + ": expected a Float32Array or Uint8Array");
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  napi_typedarray_type kind = array.TypedArrayType();
  Buffer b{nullptr, array.ElementLength(), MPI_BYTE, 1, kind};
  uint8_t* base = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  b.data = base;
  if (kind == napi_float32_array) {
    b.type = MPI_FLOAT;
    b.elementBytes = 4;
  } else if (kind != napi_uint8_array) {
    throw Napi::TypeError::New(env, std::string(what) + ": expected a Float32Array or Uint8Array");
  }
  if (b.length > static_cast<size_t>(INT_MAX))
    throw Napi::RangeError::New(env, std::string(what) + ": more than 2^31-1 elements");
  return b;
}

// allgatherv(local) → every rank's `local` concatenated in rank order (lengths may differ):
// the counts are gathered first, then the values.
Napi::Value Allgatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env, "allgatherv");
  Buffer local = View(env, info[0], "allgatherv");
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int count = static_cast<int>(local.length);
  std::vector<int> counts(size), displs(size);
  Check(env, MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather (counts)");
  long long total = 0;
  for (int r = 0; r < size; r++) {
    displs[r] = static_cast<int>(total);
    total += counts[r];
    if (total > INT_MAX) throw Napi::RangeError::New(env, "allgatherv: more than 2^31-1 elements in all");
  }
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(total) * local.elementBytes);
  Check(env,
        MPI_Allgatherv(local.data, count, local.type, out.Data(), counts.data(), displs.data(), local.type,
                       MPI_COMM_WORLD),
        "MPI_Allgatherv");
  if (local.kind == napi_float32_array) return Napi::Float32Array::New(env, static_cast<size_t>(total), out, 0);
  return Napi::Uint8Array::New(env, static_cast<size_t>(total), out, 0);
}

// allreduceSum(values) in place. MPI_Allreduce does not promise the same bits on every rank (an
// implementation may sum in a different order on each, e.g. in recursive doubling or a ring), so:
// reduce to rank 0 (one result, one summation order) and broadcast those bytes to every rank.
Napi::Value AllreduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env, "allreduceSum");
  Buffer values = View(env, info[0], "allreduceSum");
  if (values.kind != napi_float32_array) throw Napi::TypeError::New(env, "allreduceSum: expected a Float32Array");
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int n = static_cast<int>(values.length);
  if (rank == 0)
    Check(env, MPI_Reduce(MPI_IN_PLACE, values.data, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
  else
    Check(env, MPI_Reduce(values.data, nullptr, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
  Check(env, MPI_Bcast(values.data, n, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return info[0];
}

// broadcast(bytes, root) in place: root's bytes land in every rank's buffer (same length on all).
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env, "broadcast");
  Buffer bytes = View(env, info[0], "broadcast");
  int root = info[1].As<Napi::Number>().Int32Value();
  Check(env,
        MPI_Bcast(bytes.data, static_cast<int>(bytes.length), bytes.type, root, MPI_COMM_WORLD),
        "MPI_Bcast");
  return info[0];
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), "barrier");
  Check(info.Env(), MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  return info.Env().Undefined();
}

// abort(code): ends every process of the job (MPI_Abort on MPI_COMM_WORLD); does not return.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  if (Initialized() && !Finalized()) MPI_Abort(MPI_COMM_WORLD, code);
  _exit(code);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (Initialized() && !Finalized()) {
    if (local_comm != MPI_COMM_NULL) MPI_Comm_free(&local_comm);
    Check(info.Env(), MPI_Finalize(), "MPI_Finalize");
  }
  return info.Env().Undefined();
}

Napi::Value State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("initialized", Napi::Boolean::New(env, Initialized()));
  o.Set("finalized", Napi::Boolean::New(env, Finalized()));
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  o.Set("library", Napi::String::New(env, std::string(version, strnlen(version, length))));
  return o;
}

Napi::Object Exports(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("rank", Napi::Function::New(env, Rank));
  exports.Set("size", Napi::Function::New(env, Size));
  exports.Set("localRank", Napi::Function::New(env, LocalRank));
  exports.Set("localSize", Napi::Function::New(env, LocalSize));
  exports.Set("allgatherv", Napi::Function::New(env, Allgatherv));
  exports.Set("allreduceSum", Napi::Function::New(env, AllreduceSum));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("state", Napi::Function::New(env, State));
  return exports;
}

}  // namespace

NODE_API_MODULE(supcon_mpi, Exports)
