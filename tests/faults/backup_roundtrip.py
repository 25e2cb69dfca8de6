"""A backup taken under load restores to what was acknowledged before it, on SQLite and PostgreSQL.

Owns the round trip of issue #26: a real `lanyard serve` under SSO, sign-in and
admin-write load; `lanyard backup --to FILE` taken in the middle of it (the
server keeps running and the load keeps going); `lanyard restore --from FILE`
into an empty database; a second server on the restored database; then:

  - every user, group and membership the API acknowledged before the backup
    began is there, exactly as the source server shows it;
  - everything restored is what the source holds (the backup is a snapshot,
    nothing invented or half-written): each restored user, group and audit
    event equals the source's one with that id, and each restored user made
    by the load comes with its `user.create` audit event (the use-case
    layer writes a change and its event in one transaction);
  - the apps, their group bindings, entitlements and signing keys are the
    same, and the metadata is byte-identical (same certificates);
  - on SQLite, whose writes are serialised, the restored audit log is
    exactly the source's up to the backup's point (no holes);
  - sessions made before the backup still sign their users in to AWS on the
    restored server.

Usage: backup_roundtrip.py [--backend sqlite|postgres|both] [--seconds N]
PostgreSQL needs LANYARD_TEST_POSTGRES (run.sh starts one). Prints PASS/FAIL
lines and "backup-roundtrip: N passed, M failed".
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (LOAD_ENV, Load, LoadError, is_sso_post, postgres_database, seed, state,  # noqa: E402
                      tear_down)

from _common import Report, one_line  # noqa: E402
from lanyard_server import LanyardServer, ServerError, exit_on_sigterm  # noqa: E402


def restore(srv: LanyardServer, backup: Path, target: str) -> subprocess.CompletedProcess:
    env = srv.env()
    env["LANYARD_DATABASE"] = target
    return subprocess.run([str(srv.binary), "restore", "--from", str(backup)], env=env,
                          capture_output=True, text=True, timeout=300)


def round_trip(report: Report, backend: str, seconds: float) -> None:
    case = f"roundtrip-{backend}"
    work = Path(tempfile.mkdtemp(prefix=f"lanyard-backup-{backend}."))
    databases: list[str] = []
    if backend == "postgres":
        databases = [d for d in (postgres_database(report, case), postgres_database(report, case)) if d]
        if len(databases) < 2:
            tear_down(case, True, (), databases)
            return
    source = restored = None
    failed = True
    try:
        if backend == "postgres":
            source_url, target_url = databases
        else:
            source_url, target_url = None, f"sqlite://{work / 'restored.db'}"
        source = LanyardServer(database=source_url, extra_env=LOAD_ENV).start()
        seeded = seed(source, users=6)
        load = Load(lambda: source, seeded).start(sso=2, sign_ins=1, writers=2)
        time.sleep(seconds / 2)
        backup = work / "lanyard.backup"
        began = time.monotonic()
        source.cli("backup", "--to", str(backup), timeout=300)
        ended = time.monotonic()
        time.sleep(seconds / 2)
        load.stop()
        acked_before = {k: load.acked(k, before=began) for k in ("user", "group", "member", "sign_in")}
        counts = {k: load.count(k) for k in ("sso", "sign_in", "user", "group", "member")}
        report.result(load.failed() == 0 and counts["sso"] > 0 and acked_before["user"], case, "load",
                      f"under load while the backup ran ({ended - began:.2f} s): acknowledged {counts}, "
                      f"{len(acked_before['user'])} users before the backup began; failures "
                      f"{dict(load.failures)} {load.failure_samples[:3]}")
        src = state(source)

        if backend == "sqlite":
            shutil.copy(f"{source.workdir / 'lanyard.db'}.key", work / "restored.db.key")
        res = restore(source, backup, target_url)
        if res.returncode != 0:
            report.fail(case, "restore", f"lanyard restore exited {res.returncode}: {one_line(res.stderr)}")
            return
        report.ok(case, "restore", one_line(res.stderr))
        # The same public base URL: the apps' URLs and metadata are made from it.
        restored = LanyardServer(database=target_url, api_key=source.api_key,
                                 base_url=source.base_url).start()
        got = state(restored)
        compare(report, case, backend, src, got, acked_before)

        # Sessions made before the backup still work: the seeded users' browsers, and sign-ins
        # acknowledged before it (cookies are per host, so the same browsers reach the new port).
        bad = [i for i, br in enumerate(seeded.browsers)
               if not is_sso_post(br.get(restored.url(seeded.sso_path)))]
        from browser import Browser
        signed = acked_before["sign_in"][-5:]
        for email, cookie in signed:
            br = Browser("restored-session")
            br.set_cookie("lanyard_session", cookie)
            if not is_sso_post(br.get(restored.url(seeded.sso_path))):
                bad.append(email)
        report.result(not bad, case, "sessions",
                      f"{len(seeded.browsers)} seeded sessions and {len(signed)} sessions signed in under "
                      f"load before the backup get SSO from the restored server" if not bad
                      else f"sessions without SSO on the restored server: {bad}")
        failed = report.failed > 0
    except (ServerError, LoadError, OSError) as exc:
        report.fail(case, "lanyard", f"{type(exc).__name__}: {one_line(exc, 1500)}")
    finally:
        tear_down(case, failed, (restored, source), databases)
        if not failed:
            shutil.rmtree(work, ignore_errors=True)


def compare(report: Report, case: str, backend: str, src: dict, got: dict, acked: dict) -> None:
    # Acknowledged before the backup began -> restored, as the source shows it.
    missing = [u for u, _ in acked["user"] if got["users"].get(u) != src["users"].get(u)]
    missing += [g for g, _ in acked["group"] if got["groups"].get(g) != src["groups"].get(g)]
    missing += [m for m in acked["member"] if m[1] not in got["members"].get(m[0], [])]
    report.result(not missing, case, "acknowledged",
                  f"all {len(acked['user'])} users, {len(acked['group'])} groups and {len(acked['member'])} "
                  f"memberships acknowledged before the backup began are restored unchanged" if not missing
                  else f"acknowledged before the backup but not restored as they were: {missing[:10]}")
    # Nothing restored that the source does not hold.
    differ = [("user", i) for i, u in got["users"].items() if src["users"].get(i) != u]
    differ += [("group", i) for i, g in got["groups"].items() if src["groups"].get(i) != g]
    differ += [("members", i) for i, m in got["members"].items()
               if not set(m) <= set(src["members"].get(i, []))]
    differ += [("audit", i) for i, e in got["audit"].items() if src["audit"].get(i) != e]
    report.result(not differ, case, "snapshot",
                  f"{len(got['users'])} users, {len(got['groups'])} groups and {len(got['audit'])} audit events "
                  f"restored, each equal to the source's (source now: {len(src['users'])} users, "
                  f"{len(src['audit'])} events)" if not differ else f"restored but not as the source holds: {differ[:10]}")
    # A change and its audit event: together or not at all.
    created = {int(e["target"].split(":", 1)[1]) for e in got["audit"].values()
               if e["action"] == "user.create" and e["target"].startswith("user:")}
    load_users = {i for i, u in got["users"].items() if u["email"].startswith("w-")}
    orphans = {i for i in created if i not in got["users"]}
    report.result(bool(load_users) and load_users <= created and not orphans, case, "unit-of-work",
                  f"each of the {len(load_users)} restored users made under load has its user.create event and "
                  f"no restored event names a user the backup lacks"
                  if load_users and load_users <= created and not orphans
                  else f"restored users without their user.create event: {sorted(load_users - created)[:10]}; "
                       f"events naming users not restored: {sorted(orphans)[:10]}")
    # The apps: same bindings, entitlements, keys; byte-identical metadata.
    same = got["apps"] == src["apps"] and got["per_app"] == src["per_app"]
    shown = {a: len(v["metadata"][1]) for a, v in got["per_app"].items()}
    report.result(same and all(v["metadata"][0] == 200 for v in got["per_app"].values()), case, "apps",
                  f"{len(got['apps'])} apps with the same bindings, entitlements and signing keys; metadata "
                  f"byte-identical ({shown} bytes)" if same else
                  f"the restored apps differ from the source's: {differences(src, got)[:5]}")
    if backend == "sqlite":
        top = max(got["audit"])
        holes = sorted(i for i in src["audit"] if i <= top and i not in got["audit"])
        report.result(not holes, case, "audit-prefix",
                      f"the restored audit log is the source's up to event {top}, without holes" if not holes
                      else f"source events before the backup's last one missing from it: {holes[:10]}")


def differences(src: dict, got: dict) -> list[str]:
    out = []
    for part in ("apps", "per_app"):
        for i in sorted(set(src[part]) | set(got[part])):
            a, b = src[part].get(i), got[part].get(i)
            if a == b:
                continue
            if not (isinstance(a, dict) and isinstance(b, dict)):
                out.append(f"{part}[{i}]: {a!r:.100} != {b!r:.100}")
                continue
            out += [f"{part}[{i}].{k}: {a.get(k)!r:.150} != {b.get(k)!r:.150}"
                    for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return out


def main() -> int:
    exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--seconds", type=float, default=4.0, help="load time around the backup")
    args = ap.parse_args()
    report = Report("backup-roundtrip")
    for backend in (("sqlite", "postgres") if args.backend == "both" else (args.backend,)):
        round_trip(report, backend, args.seconds)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
