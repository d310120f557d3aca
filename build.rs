fn main() {
    println!("cargo:rerun-if-changed=src/native/long_double.c");
    cc::Build::new()
        .file("src/native/long_double.c")
        .opt_level(2)
        .compile("spindle_native");
}
