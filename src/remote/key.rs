//! The REAPI Action that names a task in a remote action cache.
//!
//! A remote ActionCache is keyed by the digest of an `Action` message, so
//! each task key (the scheduler's SHA-256 over the task signature, its
//! dependencies' outputs and the host tools) is wrapped in one, the same
//! way on every machine:
//!
//! ```text
//! Command { arguments: ["bitzel-task", "v1", "<task key hex>/<size>"] }
//! Action  { command_digest: digest(Command),
//!           input_root_digest: digest(empty Directory),   // e3b0c442…/0
//!           do_not_cache: false }                         // nothing else
//! AC key = digest(Action)
//! ```
//!
//! Both messages are encoded by prost in field order with default fields
//! omitted, so the bytes, and the key, depend only on the task key and
//! [`ACTION_KEY_SCHEME`]. The task's real inputs are not described in the
//! Action: the task key already covers them, and a server never executes
//! it. Both messages are uploaded with each result, so a person looking at
//! the server (BuildGrid's browser, `casdownload`) sees which task key an
//! entry belongs to.
//!
//! Invariant: changing anything here changes every remote key; bump
//! [`ACTION_KEY_SCHEME`] when the meaning of the task key changes without
//! its text doing so.

use prost::Message;

use crate::cas::{Digest, reapi};

/// The version of this mapping, the second argument of the Command.
pub const ACTION_KEY_SCHEME: &str = "v1";

/// The Command and Action messages of a task key, encoded, and the
/// Action's digest (the ActionCache key).
pub struct TaskAction {
    pub command: Vec<u8>,
    pub action: Vec<u8>,
    pub digest: Digest,
}

/// The Action standing for the task key `task_key` (see the module
/// documentation).
pub fn task_action(task_key: &Digest) -> TaskAction {
    let command = reapi::Command {
        arguments: vec![
            "bitzel-task".to_string(),
            ACTION_KEY_SCHEME.to_string(),
            task_key.to_string(),
        ],
        ..Default::default()
    }
    .encode_to_vec();
    let action = reapi::Action {
        command_digest: Some(Digest::of_bytes(&command).to_proto()),
        input_root_digest: Some(Digest::EMPTY.to_proto()),
        do_not_cache: false,
        ..Default::default()
    }
    .encode_to_vec();
    TaskAction {
        digest: Digest::of_bytes(&action),
        command,
        action,
    }
}

/// The ActionCache key of `task_key`.
pub fn action_digest(task_key: &Digest) -> Digest {
    task_action(task_key).digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_stable() {
        // Pinned: a change here makes every remote cache miss.
        let key = Digest::of_bytes(b"a task");
        let action = task_action(&key);
        assert_eq!(
            action.digest.to_string(),
            "386eec4ab700e19d3ef7e32c67f1c138ef13678b1f5c62e99fd0ce37504ffa73/138"
        );
    }

    #[test]
    fn the_messages_name_the_task_key() {
        let key = Digest::of_bytes(b"a task");
        let action = task_action(&key);
        let command = reapi::Command::decode(action.command.as_slice()).unwrap();
        assert_eq!(command.arguments[2], key.to_string());
        let decoded = reapi::Action::decode(action.action.as_slice()).unwrap();
        assert_eq!(
            decoded.command_digest,
            Some(Digest::of_bytes(&action.command).to_proto())
        );
        assert!(!decoded.do_not_cache);
        assert_ne!(action_digest(&Digest::of_bytes(b"another")), action.digest);
    }
}
