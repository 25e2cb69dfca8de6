//! Directory benchmark: loads N users (default 100,000) in 20 groups, each
//! user in 1-3 of them, then times the admin listing paths and reports the
//! database size. Runs on a SQLite file, and on PostgreSQL when
//! `LANYARD_TEST_POSTGRES` is set (`scripts/with-postgres.sh` sets it).
//!
//! Prints figures only; nothing here asserts a timing. N shrinks to 2,000
//! (a smoke run that checks the kit works) with `LANYARD_BENCH_QUICK=1` or
//! when run by `cargo test --all-targets` (no `--bench` argument);
//! `LANYARD_BENCH_USERS` sets it outright.
//!
//! ```text
//! cargo bench -p lanyard-store --bench directory
//! LANYARD_PG_DURABLE=1 scripts/with-postgres.sh cargo bench -p lanyard-store --bench directory
//! ```

use std::time::{Duration, Instant};

use lanyard_core::directory::{Attributes, ListQuery, NewGroup, NewUser};
use lanyard_core::store::{GroupStore, UserStore};
use lanyard_core::{GroupId, UserId};
use lanyard_store::testing::{drop_database, fresh_store};
use lanyard_store::SqlStore;
use time::OffsetDateTime;

const GROUPS: usize = 20;
const BATCH: usize = 1_000;
const FIRST: [&str; 8] = ["Ann", "Bob", "Carol", "Dan", "Eve", "Fay", "Gus", "Hal"];
const LAST: [&str; 8] = [
    "Lee", "Smith", "Ng", "Okafor", "Garcia", "Kim", "Novak", "Rossi",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // a test runner asking for tests: there are none
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too,
    // without it, and then a smoke run is enough.
    let quick = std::env::var("LANYARD_BENCH_QUICK").is_ok_and(|v| v == "1")
        || !args.iter().any(|a| a == "--bench");
    let n = std::env::var("LANYARD_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("directory benchmark: {n} users, {GROUPS} groups, 1-3 groups per user");
    rt.block_on(async {
        let path = std::env::temp_dir().join(format!("lanyard-bench-{}.db", std::process::id()));
        let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("sqlite file");
        store.migrate().await.expect("migrate");
        run("sqlite (file, WAL, synchronous=NORMAL)", &store, n).await;
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        match fresh_store("postgres").await {
            Some((store, db)) => {
                run("postgres", &store, n).await;
                store.close().await;
                if let Some(db) = db {
                    drop_database(&db).await;
                }
            }
            None => println!("\npostgres: skipped (LANYARD_TEST_POSTGRES not set)"),
        }
    });
}

fn user(i: usize) -> NewUser {
    let attributes = Attributes::from([
        ("employee_id".to_string(), vec![format!("E{i:07}")]),
        (
            "dept".to_string(),
            vec![["eng", "ops", "sales"][i % 3].to_string()],
        ),
    ]);
    NewUser {
        email: format!("user{i}@example.com"),
        username: format!("user{i}"),
        first_name: FIRST[i % FIRST.len()].to_string(),
        last_name: format!("{}{}", LAST[(i / 8) % LAST.len()], i % 100),
        attributes,
    }
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn rate(count: usize, d: Duration) -> String {
    format!("{:>9.0}/s", count as f64 / d.as_secs_f64())
}

/// Median wall time of `runs` calls, in milliseconds.
async fn time_ms<F, Fut, T>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f().await);
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

async fn run(label: &str, store: &SqlStore, n: usize) {
    let now = OffsetDateTime::now_utc();
    println!("\n{label}");
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        let new = NewGroup {
            name: format!("group-{g}"),
            ..NewGroup::default()
        };
        groups.push(store.create_group(&new, now).await.expect("group").id);
    }

    // One transaction per user, as the REST API and portal write.
    let singles = (n / 50).max(100);
    let mut ids: Vec<UserId> = Vec::with_capacity(n);
    let t = Instant::now();
    for i in 0..singles {
        ids.push(
            store
                .create_user(&user(i), None, now)
                .await
                .expect("user")
                .id,
        );
    }
    println!(
        "  insert, one user per call      {}  ({singles} users)",
        rate(singles, t.elapsed())
    );

    let t = Instant::now();
    let mut i = singles;
    while i < n {
        let batch: Vec<(NewUser, Option<String>)> =
            (i..(i + BATCH).min(n)).map(|j| (user(j), None)).collect();
        ids.extend(
            store
                .bulk_create_users(&batch, now)
                .await
                .expect("bulk users"),
        );
        i += batch.len();
    }
    let bulk = n - singles;
    println!(
        "  insert, bulk ({BATCH} per call)   {}  ({bulk} users)",
        rate(bulk, t.elapsed())
    );

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut members: Vec<(GroupId, UserId)> = Vec::new();
    for id in &ids {
        let k = 1 + rng.below(3);
        let first = rng.below(GROUPS);
        for j in 0..k {
            members.push((groups[(first + j * 7) % GROUPS], *id));
        }
    }
    let t = Instant::now();
    for chunk in members.chunks(10_000) {
        store.bulk_add_members(chunk).await.expect("members");
    }
    println!(
        "  memberships, bulk              {}  ({} memberships)",
        rate(members.len(), t.elapsed()),
        members.len()
    );
    let t = Instant::now();
    store.analyze().await.expect("analyze");
    println!(
        "  ANALYZE after the load         {:>8.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let single_members = 200.min(ids.len());
    for id in &ids[..single_members] {
        store.add_member(groups[0], *id).await.expect("member");
    }
    println!(
        "  add_member, one per call       {}",
        rate(single_members, t.elapsed())
    );

    let runs = 25;
    let q = |search: Option<&str>, after: Option<i64>| {
        ListQuery::new(search.map(str::to_owned), after, Some(50)).expect("query")
    };
    let first = q(None, None);
    let ms = time_ms(runs, || store.list_users(&first)).await;
    println!("  list users, first page of 50   {ms:>8.2} ms");
    let deep = q(None, Some(ids[ids.len() * 9 / 10].0));
    let ms = time_ms(runs, || store.list_users(&deep)).await;
    println!("  list users, page at 90% (keyset) {ms:>6.2} ms");
    let ms = time_ms(runs, || store.list_members(groups[3], &first)).await;
    println!("  list members of a group, page  {ms:>8.2} ms");
    let narrow = q(Some(&format!("user{}", n / 2 + 7)), None);
    let ms = time_ms(runs, || store.list_users(&narrow)).await;
    println!(
        "  search email prefix, 1 match   {ms:>8.2} ms  ({:?})",
        narrow.search.as_deref().unwrap_or("")
    );
    let broad = q(Some("user1"), None);
    let ms = time_ms(runs, || store.list_users(&broad)).await;
    println!("  search email prefix, ~11%      {ms:>8.2} ms  (\"user1\", first page)");
    let by_name = q(Some("okafor4"), None);
    let ms = time_ms(runs, || store.list_users(&by_name)).await;
    println!("  search last-name prefix, ~1.4% {ms:>8.2} ms  (\"okafor4\", first page)");
    let login = format!("USER{}@example.com", n / 3);
    let ms = time_ms(runs, || store.find_user_by_login(&login)).await;
    println!("  find_user_by_login (email)     {ms:>8.2} ms");
    let ms = time_ms(runs, || store.list_groups_of_user(ids[n / 4])).await;
    println!("  groups of a user               {ms:>8.2} ms");

    let size = store.database_size().await.expect("size");
    println!(
        "  database size                  {:>8.1} MiB  ({:.0} bytes/user incl. memberships, indexes)",
        size as f64 / 1_048_576.0,
        size as f64 / n as f64
    );
}
