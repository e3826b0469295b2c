//! The ledger's side read back (runs, checkpoints, counts, the records of a
//! kind), the ledgered insert of one kind and tiles read row by row
//! (expanded inside [`sql_store!`](crate::sql_store), whose imports it
//! uses).

/// Ledger readers for a backend's database, connection and store types.
#[doc(hidden)]
#[macro_export]
macro_rules! sql_ledger_reads {
    ($store:ident, $db:ty, $conn:ty, $small:ty) => {

    /// The ledger's runs, in leaf order.
    pub(crate) async fn read_runs<'e, E: ::sqlx::Executor<'e, Database = $db>>(
        e: E,
    ) -> Result<Vec<LedgerRun>> {
        let rows = ::sqlx::query(
            "SELECT first_leaf, kind, first_seq, count FROM ledger_runs ORDER BY first_leaf",
        )
        .fetch_all(e)
        .await
        .map_err(be)?;
        rows.iter().map(run_row).collect()
    }

    /// Every stored checkpoint, smallest first.
    pub(crate) async fn read_checkpoints<'e, E: ::sqlx::Executor<'e, Database = $db>>(
        e: E,
    ) -> Result<Vec<CheckpointRow>> {
        let rows = ::sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size")
            .fetch_all(e)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let size: i64 = r.try_get("size").map_err(be)?;
                Ok(CheckpointRow {
                    size: size as u64,
                    note: r.try_get("note").map_err(be)?,
                })
            })
            .collect()
    }

    /// How many records of `kind` are stored.
    pub(crate) async fn read_count<'e, E: ::sqlx::Executor<'e, Database = $db>>(
        e: E,
        kind: &str,
    ) -> Result<u64> {
        let v: i64 =
            ::sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table_of(kind)?))
                .fetch_one(e)
                .await
                .map_err(be)?;
        Ok(v as u64)
    }

    /// Records of `kind` (not events, which the backend reads) with
    /// seq in `[first_seq, first_seq + count)`, as the ledger logged
    /// them.
    async fn fetch_records(
        conn: &mut $conn,
        kind: &str,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LedgerRecord>> {
        let sql = match kind {
            kinds::HR_EVENT => "SELECT seq, id, body FROM hr_events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            kinds::CONTACT_REPORT => "SELECT seq, id, raw FROM contact_reports WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            kinds::REGISTER_CHANGE => "SELECT * FROM register_changes WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            kinds::ALERT => "SELECT seq, id, body FROM alerts WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            kinds::CUSTODY => "SELECT seq, id, body FROM custody_records WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            other => return Err(StoreError::Backend(format!("no ledger records of kind '{other}' here"))),
        };
        let rows = ::sqlx::query(sql)
            .bind(first_seq)
            .bind(first_seq + count as i64)
            .fetch_all(conn)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let canonical = match kind {
                    kinds::HR_EVENT => {
                        let body: String = r.try_get("body").map_err(be)?;
                        parse_hr(body.as_bytes())
                            .map(|e| hr_to_json(&e))
                            .map_err(|e| e.to_string())
                    }
                    kinds::CONTACT_REPORT => {
                        let raw: String = r.try_get("raw").map_err(be)?;
                        parse_contact(raw.as_bytes())
                            .map(|c| contact_to_json(&c))
                            .map_err(|e| e.to_string())
                    }
                    // An alert or a custody record is logged as
                    // stored: any change to the row changes its leaf.
                    kinds::ALERT | kinds::CUSTODY => {
                        Ok(r.try_get::<String, _>("body").map_err(be)?)
                    }
                    _ => register_change_row(r)
                        .map(|c| register_change_json(&c))
                        .map_err(|e| e.to_string()),
                };
                Ok(LedgerRecord {
                    seq: r.try_get("seq").map_err(be)?,
                    record_id: r.try_get("id").map_err(be)?,
                    canonical,
                })
            })
            .collect()
    }

    /// Inserts register changes (new ones only) and appends them to
    /// the ledger, in the caller's ledgered transaction.
    pub(crate) async fn insert_changes(
        tx: &mut $conn,
        changes: &[RegisterChange],
        ledger: &LedgerContext,
    ) -> Result<()> {
        insert_ledgered(&mut Tx(tx), ledger, changes).await.map(drop)
    }

    impl $store {
        /// New records of one ledgered kind, with their leaves, in one
        /// transaction.
        async fn insert_ledgered<R: $crate::ledgered::Ledgered>(
            &self,
            ledger: &LedgerContext,
            records: &[R],
        ) -> Result<Inserted> {
            let mut tx = self.write_tx().await?;
            let n = insert_ledgered(&mut Tx(&mut tx), ledger, records).await?;
            tx.commit().await.map_err(be)?;
            Ok(n)
        }

        /// Tiles of one level from index `from` on, read row by row.
        pub(crate) async fn tiles_from_rows(
            &self,
            level: u8,
            from: u64,
            limit: u32,
        ) -> Result<Vec<Tile>> {
            let rows = ::sqlx::query("SELECT idx, width, nodes FROM ledger_tiles WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3")
                .bind(<$small>::from(level))
                .bind(from as i64)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(be)?;
            rows.iter()
                .map(|r| {
                    let idx: i64 = r.try_get("idx").map_err(be)?;
                    tile_from_row(TileId { level, index: idx as u64 }, r, None)
                })
                .collect()
        }
    }
    };
}
