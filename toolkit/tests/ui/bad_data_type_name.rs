use rmkit::prelude::*;

struct Short;

impl DataType for Short {
    const NAME: &'static str = "short";
    fn rdb_save(&self, _rdb: &mut RdbWriter<'_>) {}
    fn rdb_load(_rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self> {
        Ok(Short)
    }
    fn aof_rewrite(&self, _key: &RedisStr, _aof: &mut AofWriter<'_>) {}
}

rmkit::data_type!(Short);

fn main() {}
