{
  "targets": [
    {
      "target_name": "supcon_mpi",
      "sources": ["src/cc/mpi.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "<!@(node scripts/mpi-flags.mjs cflags)"],
      "libraries": ["<!@(node scripts/mpi-flags.mjs libs)", "-ldl"]
    }
  ]
}
