//! Deleting a view's data: `SCAN` the keys of its join keys in the project (on every cluster primary),
//! remove the view's fields, and delete a key once no view's `_ts:` field remains in it.
//!
//! Removing and checking run in one Lua script per key, so a view written concurrently into the same
//! hash is never deleted along with it.

use larder_core::entity_key::EntityKeyLayout;
use larder_core::model::FeatureView;
use redis::{RedisError, RedisResult};

use super::conn::Conn;
use super::layout::{ViewFields, key_matches, scan_pattern};
use crate::batch::view_join_keys;

/// `KEYS[1]` = the key, `ARGV` = the view's fields. Returns 0 when the key held none of them, 1 when
/// other views remain, 2 when the key was deleted.
const DELETE_FIELDS: &str = r"
if redis.call('HDEL', KEYS[1], unpack(ARGV)) == 0 then return 0 end
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 4) == '_ts:' then return 1 end
end
redis.call('DEL', KEYS[1])
return 2
";

/// Removes `view`'s data from every key of `project`; returns how many keys held some of it.
pub(super) async fn delete_view(
    conn: &Conn,
    project: &str,
    view: &FeatureView,
    key_version: u32,
) -> RedisResult<u64> {
    let layout = EntityKeyLayout::new(&view_join_keys(view), key_version).map_err(|e| {
        RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "entity key layout",
            e.to_string(),
        ))
    })?;
    let fields = ViewFields::new(&view.name, view.features.iter().map(|f| f.name.as_str()));
    let mut args: Vec<&[u8]> = fields.features.iter().map(|f| &f[..]).collect();
    args.push(&fields.ts);
    let pattern = scan_pattern(layout.prefix(), project);
    let join_keys = layout.join_keys().len();
    let mut deleted = 0;
    for node in conn.scan_nodes().await? {
        let mut cursor = 0;
        loop {
            let (next, keys) = conn.scan(node.as_ref(), cursor, &pattern).await?;
            let mut cmds = conn.commands();
            for key in keys
                .iter()
                .filter(|k| key_matches(k, layout.prefix(), join_keys, project))
            {
                cmds.key()
                    .cmd("EVAL")
                    .arg(DELETE_FIELDS)
                    .arg(1)
                    .arg(key)
                    .arg(&args[..]);
            }
            let replies: Vec<i64> =
                redis::from_redis_value(redis::Value::Array(cmds.run().await?))?;
            deleted += replies.iter().filter(|&&r| r > 0).count() as u64;
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    tracing::debug!(view = %view.name, project, keys = deleted, "deleted a view's online data from redis");
    Ok(deleted)
}
