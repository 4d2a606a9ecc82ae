//! Evidence packs that try to exhaust the verifier: an entry that would decompress far beyond what
//! a pack may hold is refused before it is decompressed.

use std::io::Write;

use server::domain::evidence::{verify, MAX_ENTRY_BYTES};

#[test]
fn a_small_pack_with_a_huge_entry_is_refused_before_decompressing() {
    // 100 MiB of zeros deflate to about 100 KiB.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("summary.json", options).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..100 {
        zip.write_all(&chunk).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    assert!(bytes.len() < 1 << 20, "the pack itself is small: {} bytes", bytes.len());
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
    let e = verify(&bytes, &key).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "`summary.json` would decompress to {} bytes, more than the {MAX_ENTRY_BYTES} a pack entry may hold",
            100u64 << 20
        )
    );
}
