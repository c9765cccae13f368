"""What the tests share, so no test file imports another.

- `practice`: the small seeded practice in a real SQLite record (Ava, Ben, Cleo) and a held write lock.
- `pilot`: driving the app under Textual's pilot: `app_for`, waiting on a condition (`until`) or for the
  app to settle (`settled`), reaching screens, the live log and notifications.
- `snapshots`: the fixed set-up of the snapshot tests and the steps that reach a screen.
- `plan_files`: a complete valid plan and a tiny TOML writer.
- `record_times`: fixed session times for the summary and take tests; `timp_session`: a finished TIMP
  session for the note, export and paperwork tests.
- `tappings`: synthetic tap sequences (hypothesis) for the sync-analysis tests.
- `ordinary_user`: running work as a user whom file modes bind (root ignores them).
- JACK: `jackd` (a private dummy server), `recorder` (the witness that records a take, in a process of
  its own), `witness` (its frame clock and whether a take can be trusted), `engine_takes` (recording the
  engine and judging a take), `host_steal` (waiting for a quiet host), `hit_sender` (a drum client
  playing known frames) and `listening_takes` (a played block with known asynchronies).
- `serving`: a `companion serve` process and a caseload for its app.
- `encrypted_folder`: a practice with a findable client and note, and `companion encrypt` run on it.
- `secret_service`: a private D-Bus and GNOME Keyring, the real OS keyring of the keyring tests.
- `required`: a missing system component fails the run in CI, skips the test elsewhere.

The shared fixtures themselves are in `tests/conftest.py`. pytest puts `tests/` on `sys.path` (the tests
are not a package), so test files import `support.<module>`; the benchmarks put it there themselves.
"""
