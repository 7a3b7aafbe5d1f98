//! Password hashing: argon2id for every password OES sets, bcrypt verified for hashes kept from
//! the Node system, both run on the app's [`BlockingGate`] so a flood of logins waits or is
//! refused instead of holding a hash's memory per request.

use argon2::{Algorithm, Argon2, Params, Version};

use super::*;

/// The most working memory a stored hash may ask of a verification (1 GiB): a hash imported
/// or tampered with must not make one login allocate without bound.
const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

thread_local! {
    /// argon2's working memory (19 MiB at the default cost), kept by each thread that hashes
    /// and reused by its next hash. Allocating and freeing it per hash left glibc holding
    /// freed blocks it could not reuse: a 1,000-login storm on two hashing threads grew the
    /// process by some 250 MB that never came back. Reused, the cost is one block per
    /// hashing thread, whatever the storm. Every pass of argon2 writes each block before it
    /// reads it, so what a previous hash left in the memory does not matter.
    static WORKING_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Allocations of this size and more get a mapping of their own from glibc (its largest
/// mmap threshold is 32 MiB on 64-bit systems), which goes back to the system when freed;
/// smaller ones may stay in the allocator's heap after they are freed.
const OWN_MAPPING_BYTES: usize = 32 << 20;

/// Runs argon2 with this thread's working memory, grown to the size `params` need.
fn with_working_memory<T>(params: &Params, hash: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    WORKING_MEMORY.with_borrow_mut(|memory| {
        let blocks = params.block_count();
        if memory.len() < blocks {
            // Reserved past the mapping size so that [`release_working_memory`] gives it back
            // to the system; only the blocks argon2 uses are ever written, so the rest of the
            // reservation costs address space, not memory.
            let reserve = blocks.max(OWN_MAPPING_BYTES / argon2::Block::SIZE + 1);
            let mut fresh = Vec::with_capacity(reserve);
            fresh.resize(blocks, argon2::Block::default());
            *memory = fresh;
        }
        hash(&mut memory[..blocks])
    })
}

/// Lets go of this thread's argon2 working memory: the hashing gate's threads call it when they
/// have been idle for [`HASH_MEMORY_IDLE`], so a server goes back near its baseline after a
/// storm of logins, and keeps the memory while logins keep coming.
pub fn release_working_memory() {
    WORKING_MEMORY.with_borrow_mut(|memory| *memory = Vec::new());
}

/// How long a hashing thread keeps its working memory without work.
pub const HASH_MEMORY_IDLE: Duration = Duration::from_secs(10);

fn hash_err(e: impl std::fmt::Display) -> AccountError {
    AccountError::Hash(e.to_string())
}

/// A PHC string (`$argon2id$v=19$m=…,t=…,p=1$salt$hash`) for `password` at `cost`.
pub(super) fn hash_now(password: &str, cost: HashCost) -> Result<String, AccountError> {
    use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(hash_err)?;
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_working_memory(&params, |memory| {
        hasher.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .map_err(hash_err)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(hash_err)?,
        salt: Some(Salt::new(&salt).map_err(hash_err)?),
        hash: Some(Output::new(&out).map_err(hash_err)?),
    };
    Ok(phc.to_string())
}

/// The most work a stored bcrypt hash may ask of a verification: each step doubles it, and 14
/// is 16 times the Node system's 10. A higher cost is a mismatch, not a login that holds a
/// hashing slot for minutes.
const MAX_BCRYPT_COST: u32 = 14;

/// Whether a stored hash is bcrypt (`$2a$`, `$2b$`, `$2y$`): what the Node system stored and
/// `oes import node` keeps, so that nobody has to reset a password; the first successful login
/// replaces it with argon2id.
pub fn is_bcrypt_hash(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

/// bcrypt's own comparison (constant time). Like the Node system's bcryptjs it reads only the
/// first 72 bytes of the password, so a password Node accepted verifies here as it did there.
fn verify_bcrypt(password: &str, stored: &str) -> bool {
    match stored.parse::<bcrypt::HashParts>() {
        Ok(parts) if parts.get_cost() <= MAX_BCRYPT_COST => {
            bcrypt::verify(password, stored).unwrap_or(false)
        }
        _ => false,
    }
}

/// Whether `password` gives the stored hash: a PHC string's, with the string's own parameters,
/// or a bcrypt hash imported from the Node system. An unreadable hash (or one that asks for more
/// than [`MAX_VERIFY_MEMORY_KIB`] or [`MAX_BCRYPT_COST`]) counts as a mismatch.
pub(super) fn verify_now(password: &str, stored: &str) -> Result<bool, AccountError> {
    use argon2::password_hash::phc::PasswordHash;
    if is_bcrypt_hash(stored) {
        return Ok(verify_bcrypt(password, stored));
    }
    let Ok(phc) = PasswordHash::new(stored) else {
        return Ok(false);
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(phc.algorithm.as_str()),
        Params::try_from(&phc),
        phc.salt.as_ref(),
        phc.hash.as_ref(),
    ) else {
        return Ok(false);
    };
    let version = match phc.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return Ok(false),
    };
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
        return Ok(false);
    }
    let mut out = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params.clone());
    let computed = with_working_memory(&params, |memory| {
        hasher.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, memory)
    });
    Ok(computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

/// Hashes a password on the gate's threads (argon2 is deliberately slow and would stall the
/// async workers), waiting for a slot of `gate`.
pub async fn hash_password(
    gate: &BlockingGate,
    password: &str,
    cost: HashCost,
) -> Result<String, AccountError> {
    let password = password.to_owned();
    gate.run(move || hash_now(&password, cost)).await?
}

/// Verifies a password against a stored PHC string (whose own parameters are used), waiting
/// for a slot of `gate`. An unreadable hash counts as a mismatch.
pub async fn verify_password(
    gate: &BlockingGate,
    password: &str,
    hash: &str,
) -> Result<bool, AccountError> {
    let password = password.to_owned();
    let hash = hash.to_owned();
    gate.run(move || verify_now(&password, &hash)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_the_crates_own_argon2id_both_ways_even_in_reused_memory() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let cost = HashCost {
            memory_kib: 256,
            iterations: 2,
        };
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None).expect("params");
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // Dirty the working memory with another password's hash first.
        let ours = hash_now("the first one 1", cost).expect("hash");
        let ours = [ours, hash_now("letters4ever", cost).expect("hash")];
        assert!(
            reference
                .verify_password(b"letters4ever", ours[1].as_str())
                .is_ok(),
            "the crate verifies ours: {}",
            ours[1]
        );
        let theirs = reference
            .hash_password(b"letters4ever")
            .expect("reference hash")
            .to_string();
        assert!(verify_now("letters4ever", &theirs).expect("verify"));
        assert!(!verify_now("letters5ever", &theirs).expect("verify"));
        assert!(!verify_now("the first one 1", &ours[1]).expect("verify"));
        // A smaller cost after a larger one reuses the front of the memory.
        let small = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        let hash = hash_now("letters4ever", small).expect("hash");
        assert!(verify_now("letters4ever", &hash).expect("verify"));
        assert!(
            reference
                .verify_password(b"letters4ever", hash.as_str())
                .is_ok()
        );
    }

    #[test]
    fn a_stored_hash_asking_for_huge_memory_is_a_mismatch_not_an_allocation() {
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
                    ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        assert!(!verify_now("anything", huge).expect("verify"));
        assert!(!verify_now("anything", "$2b$10$bcryptbcryptbcryptbcrypt").expect("verify"));
    }

    #[test]
    fn bcrypt_hashes_from_the_node_system_verify_in_every_prefix_and_only_with_their_password() {
        // bcryptjs (the Node system's library) at its cost 10, password "Corr3ct-Horse-Battery!".
        let node = "$2b$10$OK9XOiv/.mdakEAl2lsMgOTmOUFhrBjUeyk8uKsgqcyxFlTp6Z.Rm";
        assert!(verify_now("Corr3ct-Horse-Battery!", node).expect("verify"));
        assert!(!verify_now("Corr3ct-Horse-Battery?", node).expect("verify"));
        let short = bcrypt::hash("abc123", 4).expect("hash");
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let hash = format!("{prefix}{}", &short[4..]);
            assert!(is_bcrypt_hash(&hash));
            assert!(verify_now("abc123", &hash).expect("verify"), "{hash}");
            assert!(!verify_now("abc124", &hash).expect("verify"), "{hash}");
        }
        assert!(!is_bcrypt_hash(
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
    }

    #[test]
    fn a_bcrypt_hash_of_excessive_cost_is_a_mismatch_not_a_stall() {
        let cheap = bcrypt::hash("abc123", 4).expect("hash");
        let costly = format!("$2b$31${}", &cheap[7..]);
        assert!(!verify_now("abc123", &costly).expect("verify"));
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let cost = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        let gate = BlockingGate::new(1, 0, Duration::from_secs(1));
        let hash = hash_password(&gate, "letters4ever", cost)
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        for (password, stored, matches) in [
            ("letters4ever", hash.as_str(), true),
            ("letters5ever", hash.as_str(), false),
            ("letters4ever", "garbage", false),
        ] {
            let verified = verify_password(&gate, password, stored)
                .await
                .expect("verify");
            assert_eq!(verified, matches, "{password} against {stored}");
        }
    }
}
