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

use crate::common;

fn farm(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_farm")).args(args).output().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Rotating the signing key keeps old packs verifiable: the farm publishes the retired public keys
/// it is given beside its current one, and `farm evidence verify` accepts a pack signed by any key
/// of that published document, saying which; the new key alone refuses the old pack.
#[test]
fn a_pack_signed_before_a_key_rotation_verifies_against_the_published_keys() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    std::fs::copy(common::root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml"), catalog.join("minimal.yaml"))
        .unwrap();
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    let (ci, release) = (common::token(&db, "ci"), common::token(&db, "release"));
    let (old_key, new_key) = (dir.path().join("old.key"), dir.path().join("new.key"));
    let serve = |key: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--database-url", &db, "--workers", "1", "--catalog", catalog.to_str().unwrap()];
        args.extend(["--signing-key", key.to_str().unwrap()]);
        args.extend(extra);
        common::farm_serve(&args, std::process::Stdio::inherit())
    };
    let keys = |addr: &str| -> serde_json::Value {
        ureq::get(&format!("{addr}/api/v1/keys")).call().unwrap().into_json().unwrap()
    };

    // Before the rotation: a candidate and its pack, signed with the old key.
    let (server, addr) = serve(&old_key, &[]);
    let before = keys(&addr);
    assert_eq!(before["past"], serde_json::json!([]), "{before}");
    let old_public = before["ed25519"].as_str().unwrap().to_owned();
    let created: serde_json::Value = ureq::post(&format!("{addr}/api/v1/candidates"))
        .set("Authorization", &format!("Bearer {ci}"))
        .send_json(serde_json::json!({ "name": "rc-before-rotation", "suite": { "scenarios": ["test.minimal"] } }))
        .unwrap()
        .into_json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    crate::ui_support::wait_done(&addr, &id);
    let mut pack = Vec::new();
    std::io::Read::read_to_end(
        &mut ureq::get(&format!("{addr}/api/v1/candidates/{id}/evidence"))
            .set("Authorization", &format!("Bearer {release}"))
            .call()
            .unwrap()
            .into_reader(),
        &mut pack,
    )
    .unwrap();
    let pack_path = dir.path().join("before.zip");
    std::fs::write(&pack_path, &pack).unwrap();
    drop(server);

    // The rotation (docs/runbook.md): a new key, the old public key published as retired.
    let past = dir.path().join("past-public-keys.txt");
    std::fs::write(&past, format!("# retired signing keys\n{old_public}  in use until 2026-11-30\n")).unwrap();
    let (_server, addr) = serve(&new_key, &["--past-public-keys", past.to_str().unwrap()]);
    let after = keys(&addr);
    let new_public = after["ed25519"].as_str().unwrap().to_owned();
    assert_ne!(new_public, old_public, "the farm signs with the new key");
    assert_eq!(after["past"], serde_json::json!([{ "ed25519": old_public, "note": "in use until 2026-11-30" }]));
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, after.to_string()).unwrap();

    let pack_arg = pack_path.to_str().unwrap();
    let out = farm(&["evidence", "verify", pack_arg, "--public-key", keys_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("signed by the retired key {old_public} (in use until 2026-11-30)")),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("files match the signed manifest"), "{}", stdout(&out));
    // The new key alone does not vouch for a pack it did not sign.
    let out = farm(&["evidence", "verify", pack_arg, "--public-key", &new_public]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("INVALID: the manifest's signature does not match"), "{}", stdout(&out));
    // Nor does a document that does not publish the old key.
    let unpublished = dir.path().join("unpublished.json");
    std::fs::write(&unpublished, serde_json::json!({ "ed25519": new_public, "past": [] }).to_string()).unwrap();
    let out = farm(&["evidence", "verify", pack_arg, "--public-key", unpublished.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[test]
fn a_retired_key_list_with_a_bad_line_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let past = dir.path().join("past-public-keys.txt");
    std::fs::write(&past, "# retired\nnot-a-key in use until 2026-11-30\n").unwrap();
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    let key = dir.path().join("key");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["serve", "--database-url", &db, "--workers", "0", "--listen", "127.0.0.1:0"])
        .args(["--signing-key", key.to_str().unwrap(), "--past-public-keys", past.to_str().unwrap()])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("line 2: `not-a-key` is not an Ed25519 public key"),
        "the error names the file's line: {}",
        stdout(&out)
    );
}
