{
  "targets": [
    {
      "target_name": "pageflip",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/args.cc",
        "native/mapping.cc",
        "native/region.cc",
        "native/capabilities.cc",
        "native/netns.cc",
        "native/socket.cc",
        "native/tcp_socket.cc",
        "native/zerocopy.cc",
        "native/receive.cc",
        "native/receive_options.cc",
        "native/receiver.cc",
        "native/send.cc",
        "native/run_loop.cc",
        "native/region_send.cc",
        "native/pattern_check.cc",
        "native/calibrate.cc",
        "native/calibrate_socket.cc",
        "native/calibrate_kernels.cc",
        "native/calibrate_cpus.cc",
        "native/vocabulary.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc!": ["-std=gnu++17", "-std=c++17", "-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
