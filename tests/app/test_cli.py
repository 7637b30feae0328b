"""``flask`` commands through ``app.test_cli_runner()``. Their commits are SAVEPOINT releases inside the test's
rolled-back transaction; setup is committed first so a command's rollback on error cannot undo it."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

import tests.exports.sample_tasks  # noqa: F401  (registers the task the retry test uses)
from core.db import session
from exports.models import Job
from tenants import demo
from tenants.models import ApiToken, Membership, Node, User
from tenants.passwords import verify_password


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        result = runner.invoke(args=list(args), input=input)
        session.expire_all()  # read back what the command committed
        return result
    return run


@pytest.fixture
def committed_tree(tree):
    session.commit()
    return tree


def user(email: str) -> User | None:
    return session.execute(select(User).where(User.email == email)).scalar()


def count(model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


# --- users create ------------------------------------------------------------------------------------------

def test_users_create_makes_a_user_with_one_membership(cli, committed_tree):
    school = committed_tree.schools["A1"]
    r = cli("users", "create", "--email", "Director@Test.Arbor.ro", "--name", "Ion Director", "--role", "director",
            "--node", school.code, "--password", "a long enough secret")
    assert r.exit_code == 0, r.output
    assert "created user director@test.arbor.ro is director at Școala A1" in r.output
    u = user("director@test.arbor.ro")
    assert u.name == "Ion Director" and verify_password(u.password_hash, "a long enough secret")
    assert [(m.node_id, m.role) for m in u.memberships] == [(school.id, "director")]


def test_users_create_prompts_for_the_password_when_not_given(cli, committed_tree):
    r = cli("users", "create", "--email", "isg@test.arbor.ro", "--name", "ISG", "--role", "isg", "--node",
            committed_tree.a.code, input="prompted secret\nprompted secret\n")
    assert r.exit_code == 0, r.output
    assert verify_password(user("isg@test.arbor.ro").password_hash, "prompted secret")


def test_users_create_adds_a_membership_to_an_existing_user(cli, committed_tree):
    args = ("users", "create", "--email", "t@test.arbor.ro", "--name", "T", "--node")
    first = cli(*args, committed_tree.schools["A1"].code, "--role", "teacher", "--password", "quiet river lantern")
    assert first.exit_code == 0
    r = cli(*args, committed_tree.schools["A2"].code, "--role", "teacher")
    assert r.exit_code == 0 and "existing user" in r.output
    assert sorted(m.node_id for m in user("t@test.arbor.ro").memberships) == sorted(
        [committed_tree.schools["A1"].id, committed_tree.schools["A2"].id])
    r = cli(*args, committed_tree.schools["A2"].code, "--role", "teacher", "--password", "y" * 12)
    assert r.exit_code != 0 and "already exists" in r.output


@pytest.mark.parametrize("args,message", [
    (("--role", "director", "--node", "NO-SUCH-CODE"), "no node with code NO-SUCH-CODE"),
    (("--role", "director", "--node", "CA"), "role director belongs at level school, not inspectorate"),
    (("--role", "unit_responsible", "--node", "1100000001"), "belongs at level unit, not school"),
    (("--role", "wizard", "--node", "CA"), "Invalid value for '--role'"),
])
def test_users_create_refuses_with_a_clear_message(cli, committed_tree, args, message):
    users_before, memberships_before = count(User), count(Membership)
    r = cli("users", "create", "--email", "x@test.arbor.ro", "--name", "X", "--password", "long enough!", *args)
    assert r.exit_code != 0
    assert message in r.output
    assert "Traceback" not in r.output
    assert (count(User), count(Membership)) == (users_before, memberships_before)  # nothing half-created
    assert user("x@test.arbor.ro") is None


@pytest.mark.parametrize("email,password,message", [("not-an-email", "long enough!", "not an e-mail address"),
                                                    ("short@test.arbor.ro", "short", "at least 12 characters"),
                                                    ("p@test.arbor.ro", "Password1234", "too common")])
def test_users_create_checks_email_and_password(cli, committed_tree, email, password, message):
    r = cli("users", "create", "--email", email, "--name", "X", "--role", "inspector", "--node", "CA",
            "--password", password)
    assert r.exit_code != 0 and message in r.output


# --- tokens ------------------------------------------------------------------------------------------------

@pytest.fixture
def inspector(committed_tree, make_user):
    u = make_user("inspector", committed_tree.a, email="insp@test.arbor.ro")
    session.commit()
    return u


def test_tokens_create_prints_a_working_token_kept_only_as_a_hash(cli, client, inspector):
    r = cli("tokens", "create", "INSP@test.arbor.ro", "--name", "script")
    assert r.exit_code == 0, r.output
    raw = r.output.strip()
    assert raw.startswith("arb_")
    tok = session.execute(select(ApiToken).where(ApiToken.user_id == inspector.id)).scalar_one()
    assert (tok.name, tok.scopes, tok.expires_at) == ("script", "read write", None)
    assert raw not in (tok.token_hash, tok.prefix)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.json["email"] == "insp@test.arbor.ro"


def test_tokens_create_read_only_and_expiring(cli, inspector):
    r = cli("tokens", "create", "insp@test.arbor.ro", "--read-only", "--expires-days", "30")
    assert r.exit_code == 0, r.output
    tok = session.execute(select(ApiToken).where(ApiToken.user_id == inspector.id)).scalar_one()
    assert tok.scopes == "read" and tok.expires_at is not None


def test_tokens_create_for_an_unknown_user_fails(cli, committed_tree):
    r = cli("tokens", "create", "nobody@test.arbor.ro")
    assert r.exit_code != 0 and "no active user nobody@test.arbor.ro" in r.output
    assert count(ApiToken) == 0


def test_tokens_list_and_revoke(cli, client, committed_tree, inspector, make_user):
    raw = cli("tokens", "create", "insp@test.arbor.ro", "--name", "laptop").output.strip()
    tok = session.execute(select(ApiToken).where(ApiToken.user_id == inspector.id)).scalar_one()
    listing = cli("tokens", "list", "insp@test.arbor.ro").output
    assert f"{tok.id}\tlaptop\t{tok.prefix}…\tread write\tactive" in listing
    make_user("inspector", committed_tree.a, email="o@test.arbor.ro")
    session.commit()
    assert cli("tokens", "revoke", "o@test.arbor.ro", str(tok.id)).exit_code != 0  # not theirs
    r = cli("tokens", "revoke", "insp@test.arbor.ro", str(tok.id))
    assert r.exit_code == 0, r.output
    assert "revoked" in cli("tokens", "list", "insp@test.arbor.ro").output
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


# --- seed demo ---------------------------------------------------------------------------------------------

def test_seed_demo_is_idempotent(cli):
    first = cli("seed", "demo")
    assert first.exit_code == 0, first.output
    assert "comisie@demo.arbor.ro" in first.output
    counts = (count(Node), count(User), count(Membership))
    assert counts[0] > 40 and counts[1] == len(demo.ACCOUNTS)
    second = cli("seed", "demo")
    assert second.exit_code == 0 and "already present" in second.output
    assert (count(Node), count(User), count(Membership)) == counts


def test_seed_demo_leaves_a_real_tree_alone(cli, committed_tree):
    nodes = count(Node)
    r = cli("seed", "demo")
    assert r.exit_code != 0 and "not the demo" in r.output
    assert count(Node) == nodes


def test_seed_demo_refuses_production(app, cli, monkeypatch):
    monkeypatch.setitem(app.config, "ENV", "production")
    r = cli("seed", "demo")
    assert r.exit_code != 0 and "not in production" in r.output
    assert count(Node) == 0


# --- worker and jobs ---------------------------------------------------------------------------------------

def test_worker_needs_redis(cli):
    r = cli("worker", "--burst")
    assert r.exit_code != 0 and "REDIS_URL is not set" in r.output


def test_worker_refuses_unknown_queues(cli):
    r = cli("worker", "reports")
    assert r.exit_code == 2 and "Invalid value" in r.output


def test_jobs_retry_runs_a_failed_job_again(cli, inspector):
    county = session.get(Node, inspector.memberships[0].node_id)
    job = Job(kind="tests.add_school", queue="exports", node_id=county.id, user_id=inspector.id, status="failed",
              attempts=1, error="boom", params={"county_id": county.id, "code": "9400000001", "name": "Din CLI"})
    session.add(job)
    session.commit()
    r = cli("jobs", "retry", str(job.id))
    assert r.exit_code == 0, r.output
    assert "is done" in r.output
    assert session.get(Job, job.id).attempts == 2
    again = cli("jobs", "retry", str(job.id))
    assert again.exit_code != 0 and "already finished" in again.output
    assert cli("jobs", "retry", "999999").exit_code != 0


def test_seed_national_at_a_small_scale(app, db):
    from sqlalchemy import func, select

    from core.db import session
    from tenants.models import Node
    runner = app.test_cli_runner()
    r = runner.invoke(args=["seed", "national", "--scale", "0.01"])
    assert r.exit_code == 0, r.output
    assert "42 inspectorates" in r.output
    assert session.execute(select(func.count()).where(Node.level == "inspectorate")).scalar() == 42
    again = runner.invoke(args=["seed", "national", "--scale", "0.01"])
    assert again.exit_code != 0 and "already holds a network" in again.output
