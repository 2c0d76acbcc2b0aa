//! `t1651_cloud_audit`: the modular input binary (see `t1651::modinput`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(t1651::modinput::main_with_args(&args));
}
