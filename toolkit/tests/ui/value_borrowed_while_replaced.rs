use rmkit::prelude::*;

struct Doc(Vec<u8>);

impl DataType for Doc {
    const NAME: &'static str = "rmkit-doc";
    fn rdb_save(&self, _rdb: &mut RdbWriter<'_>) {}
    fn rdb_load(_rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self> {
        Ok(Doc(Vec::new()))
    }
    fn aof_rewrite(&self, _key: &RedisStr, _aof: &mut AofWriter<'_>) {}
}

rmkit::data_type!(Doc);

/// A value read from the key cannot be used after the key replaced it (it was freed).
#[rmkit::command(name = "t.cmd", flags = "write")]
fn cmd(mut key: WriteKey) -> Result<Reply> {
    let old = key.value::<Doc>()?;
    key.set_value(|| Ok(Doc(vec![1])))?;
    Ok(Reply::from(old.map(|d| d.0.len()).unwrap_or(0)))
}

fn main() {}
