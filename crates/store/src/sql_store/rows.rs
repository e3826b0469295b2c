//! The rows of the shared tables decoded to domain types, one decoder per
//! table, each naming the column it could not read (expanded inside
//! [`sql_store!`](crate::sql_store), whose imports it uses).

/// Row decoders for a backend whose `INTEGER` columns decode to `$int` and
/// `SMALLINT` columns to `$small`.
#[doc(hidden)]
#[macro_export]
macro_rules! sql_rows {
    ($row:ty, $int:ty, $small:ty) => {
        pub(crate) fn run_row(r: &$row) -> Result<LedgerRun> {
            let first_leaf: i64 = r.try_get("first_leaf").map_err(be)?;
            let count: i64 = r.try_get("count").map_err(be)?;
            Ok(LedgerRun {
                first_leaf: first_leaf as u64,
                kind: r.try_get("kind").map_err(be)?,
                first_seq: r.try_get("first_seq").map_err(be)?,
                count: count as u64,
            })
        }

        pub(crate) fn tile_from_row(
            id: TileId,
            r: &$row,
            want_width: Option<usize>,
        ) -> Result<Tile> {
            let width: $int = r.try_get("width").map_err(be)?;
            let nodes: Vec<u8> = r.try_get("nodes").map_err(be)?;
            if let Some(w) = want_width {
                if w as i64 != i64::from(width) {
                    return Err(StoreError::Corrupt(format!(
                        "ledger tile {}/{} has width {width}, expected {w}",
                        id.level, id.index
                    )));
                }
            }
            Tile::from_bytes(id, width as usize, &nodes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        }

        /// A time stored as microseconds and an offset in seconds.
        pub(crate) fn time_of(
            r: &$row,
            us: &str,
            off: &str,
        ) -> Result<::chrono::DateTime<::chrono::FixedOffset>> {
            let o: $int = r.try_get(off).map_err(be)?;
            ts_from_db(r.try_get(us).map_err(be)?, i64::from(o))
        }

        pub(crate) fn stored_event(r: &$row) -> Result<StoredEvent> {
            let rest: String = r.try_get("rest").map_err(be)?;
            StoredEvent::from_columns(
                r.try_get("id").map_err(be)?,
                time_of(r, "ts_us", "ts_off")?,
                r.try_get("user_id").map_err(be)?,
                r.try_get("action").map_err(be)?,
                r.try_get("doc").map_err(be)?,
                &rest,
            )
        }

        pub(crate) fn register_change_row(r: &$row) -> Result<RegisterChange> {
            Ok(RegisterChange {
                doc_id: r.try_get("doc_id").map_err(be)?,
                at: time_of(r, "at_us", "at_off")?,
                actor: r.try_get("actor").map_err(be)?,
                field: r.try_get("field").map_err(be)?,
                old: r.try_get("old").map_err(be)?,
                new: r.try_get("new").map_err(be)?,
            })
        }

        pub(crate) fn person_row(r: &$row) -> Result<Person> {
            let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
            let leave: Option<String> = r.try_get("leave_date").map_err(be)?;
            let clearance: $small = r.try_get("clearance").map_err(be)?;
            columns::person(
                s("user_id")?,
                s("name")?,
                s("email")?,
                s("org_unit")?,
                s("site")?,
                s("role")?,
                r.try_get("manager_id").map_err(be)?,
                i64::from(clearance),
                &s("projects")?,
                &s("hire_date")?,
                leave.as_deref(),
            )
        }

        pub(crate) fn document_row(r: &$row) -> Result<Document> {
            let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
            let level: $small = r.try_get("classification").map_err(be)?;
            columns::document(
                s("doc_id")?,
                s("title")?,
                i64::from(level),
                s("owner_id")?,
                &s("projects")?,
                s("kind")?,
                &s("created")?,
                &s("medium")?,
            )
        }

        pub(crate) fn account_row(r: &$row) -> Result<Account> {
            Ok(Account {
                username: r.try_get("username").map_err(be)?,
                role: r.try_get("role").map_err(be)?,
                user_id: r.try_get("user_id").map_err(be)?,
                password_hash: r.try_get("password_hash").map_err(be)?,
                disabled: r.try_get("disabled").map_err(be)?,
            })
        }

        pub(crate) fn token_row(r: &$row) -> Result<ApiToken> {
            Ok(ApiToken {
                token_sha256: r.try_get("token_sha256").map_err(be)?,
                name: r.try_get("name").map_err(be)?,
                role: r.try_get("role").map_err(be)?,
                created_at: r.try_get("created_at").map_err(be)?,
                revoked_at: r.try_get("revoked_at").map_err(be)?,
            })
        }

        fn custody_row(r: &$row) -> Result<CustodyRecord> {
            Ok(CustodyRecord {
                id: r.try_get("id").map_err(be)?,
                kind: r.try_get("kind").map_err(be)?,
                doc_id: r.try_get("doc_id").map_err(be)?,
                user_id: r.try_get("user_id").map_err(be)?,
                at: time_of(r, "at_us", "at_off")?,
                body: r.try_get("body").map_err(be)?,
            })
        }

        fn alert_row(r: &$row) -> Result<StoredAlert> {
            Ok(StoredAlert {
                seq: r.try_get("seq").map_err(be)?,
                id: r.try_get("id").map_err(be)?,
                user: r.try_get("user_id").map_err(be)?,
                raised_at: time_of(r, "raised_us", "raised_off")?,
                severity: r.try_get("severity").map_err(be)?,
                score: r.try_get("score").map_err(be)?,
                body: r.try_get("body").map_err(be)?,
            })
        }

        fn hr_row(r: &$row) -> Result<HrEvent> {
            let body: String = r.try_get("body").map_err(be)?;
            parse_hr(body.as_bytes()).map_err(|e| StoreError::Corrupt(format!("hr event: {e}")))
        }

        fn contact_row(r: &$row) -> Result<ContactReport> {
            let raw: String = r.try_get("raw").map_err(be)?;
            parse_contact(raw.as_bytes())
                .map_err(|e| StoreError::Corrupt(format!("contact report: {e}")))
        }

        fn reject_row(r: &$row) -> Result<Reject> {
            let line: i64 = r.try_get("line").map_err(be)?;
            Ok(Reject {
                file: r.try_get("file").map_err(be)?,
                line: u64::try_from(line).unwrap_or(0),
                reason: r.try_get("reason").map_err(be)?,
                raw: r.try_get("raw").map_err(be)?,
            })
        }

        fn content_row(r: &$row) -> Result<SealedContent> {
            let size: i64 = r.try_get("size").map_err(be)?;
            Ok(SealedContent {
                doc_id: r.try_get("doc_id").map_err(be)?,
                key_id: r.try_get("key_id").map_err(be)?,
                nonce: r.try_get("nonce").map_err(be)?,
                ciphertext: r.try_get("ciphertext").map_err(be)?,
                sha256: r.try_get("sha256").map_err(be)?,
                media_type: r.try_get("media_type").map_err(be)?,
                size: size as u64,
            })
        }
    };
}
