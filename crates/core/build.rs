//! Compiles Larder's Feast-compatible `.proto` files with protox (no `protoc` needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/feast/core/Registry.proto",
        "proto/feast/core/SqliteTable.proto",
        "proto/feast/types/EntityKey.proto",
        "proto/feast/serving/ServingService.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(files, ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    let mut config = prost_build::Config::new();
    config.btree_map(["."]);
    config.compile_fds(descriptors)?;
    Ok(())
}
