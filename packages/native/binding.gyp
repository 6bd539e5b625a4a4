{
  "targets": [
    {
      "target_name": "supcon_native",
      "sources": [
        "src/cc/addon.cc",
        "src/cc/dnnl_common.cc",
        "src/cc/conv.cc",
        "src/cc/matmul.cc",
        "src/cc/batch_norm.cc",
        "src/cc/elementwise.cc",
        "src/cc/reduce.cc",
        "src/cc/pool.cc",
        "src/cc/supcon_rows.cc",
        "src/cc/optim.cc",
        "src/cc/bf16.cc",
        "src/cc/transpose.cc",
        "src/cc/transformer.cc",
        "src/cc/attention.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-Wall", "-Wno-unknown-pragmas"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
