use rmkit::prelude::*;

struct Counter(Vec<u64>);

impl DataType for Counter {
    const NAME: &'static str = "counter-1";
    fn rdb_save(&self, _rdb: &mut RdbWriter<'_>) {}
    fn rdb_load(_rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self> {
        Ok(Counter(Vec::new()))
    }
    fn aof_rewrite(&self, _key: &RedisStr, _aof: &mut AofWriter<'_>) {}
}

rmkit::data_type!(Counter);

/// Returns a Vec built inside `update`: it would be counted as the value's memory.
#[rmkit::command(name = "t.cmd", flags = "write")]
fn cmd(mut key: WriteKey) -> Result<Reply> {
    let replies = key.update(|c: &mut Counter| {
        c.0.push(1);
        vec![Reply::Integer(1)]
    })?;
    Ok(replies.unwrap_or_default().into())
}

fn main() {}
