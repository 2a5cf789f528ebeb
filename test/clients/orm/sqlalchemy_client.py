"""SQLAlchemy (1.4 or 2.x) against app.project / app.task (rename mode) and lamin.artifact.
usage: sqlalchemy_client.py DRIVER SOCKET_DIR PORT DATABASE   (DRIVER: psycopg2 or psycopg)
The migration and the reflection run as app_owner, the rows are written as app_user."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, error_of, finish, held_in_trash, note, section, sqlstate  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import (BigInteger, Boolean, Column, FetchedValue, ForeignKey, Integer,  # noqa: E402
                        MetaData, PrimaryKeyConstraint, String, Table, create_engine, delete,
                        func, inspect, select, text)
from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: E402
from sqlalchemy.ext.automap import automap_base  # noqa: E402
from sqlalchemy.orm import Session, declarative_base  # noqa: E402
from sqlalchemy.orm.exc import StaleDataError  # noqa: E402

driver, host, port, db = sys.argv[1:5]
note('SQLAlchemy %s with %s' % (sa.__version__, driver))


def engine(user):
    return create_engine('postgresql+%s://%s@/%s?host=%s&port=%s' % (driver, user, db, host, port),
                         future=True)


owner = engine('app_owner')
app = engine('app_user')
dbapi = app.dialect.dbapi
check('the %s driver is the one in use' % driver, dbapi.__name__.split('.')[0] == driver, dbapi.__name__)


def q(sql, **params):
    """One value, read as the owner (who sees every branch through the _all tables)."""
    with owner.connect() as c:
        return c.execute(text(sql), params).scalar()


def qa(sql, **params):
    """One value, read as app_user."""
    with app.connect() as c:
        return c.execute(text(sql), params).scalar()


def branch_of(tid):
    return q('SELECT branch_id FROM app.task_all WHERE id = :id', id=tid)


# --- a migration aimed at the model's table name (the main view): Alembic operations -----------
def migration():
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    with owner.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        op.add_column('task', Column('prio', Integer, nullable=False, server_default='0'), schema='app')
        op.add_column('task', Column('parent_id', BigInteger, nullable=True), schema='app')
        op.create_foreign_key('task_parent_fk', 'task', 'task', ['parent_id'], ['id'],
                              source_schema='app', referent_schema='app')
        op.create_index('task_prio_idx', 'task', ['prio'], schema='app')
        op.create_table('comment', Column('id', BigInteger, primary_key=True),
                        Column('task_id', BigInteger, ForeignKey('app.task.id'), nullable=False),
                        Column('body', String), schema='app')
        conn.execute(text('GRANT SELECT, INSERT ON app.comment TO app_user'))
    check('Alembic add_column on app.task: the columns are on app.task_all and the view',
          q("SELECT count(*) FROM pg_attribute WHERE attname IN ('prio', 'parent_id') AND NOT attisdropped"
            " AND attrelid IN ('app.task_all'::regclass, 'app.task'::regclass, 'app.task_trash'::regclass)") == 6)
    check('Alembic create_foreign_key and a new table REFERENCES app.task: both keys point at app.task_all',
          q("SELECT string_agg(confrelid::regclass::text, ',' ORDER BY conname) FROM pg_constraint"
            " WHERE contype = 'f' AND conname IN ('task_parent_fk', 'comment_task_id_fkey')")
          == 'app.task_all,app.task_all')
    check('Alembic create_index on app.task: an index of app.task_all',
          q("SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = 'app.task_prio_idx'::regclass")
          == 'app.task_all')
    check('after the migration app_user keeps its grants on the view',
          q("SELECT has_table_privilege('app_user', 'app.task', 'INSERT, UPDATE, DELETE')") is True)


# --- models with the key of each view declared ---------------------------------------------------
Base = declarative_base()


class Project(Base):
    __tablename__ = 'project'
    __table_args__ = {'schema': 'app'}
    id = Column(BigInteger, primary_key=True)
    name = Column(String, nullable=False)


class Task(Base):
    __tablename__ = 'task'
    __table_args__ = {'schema': 'app'}
    id = Column(BigInteger, primary_key=True)          # a view has no key: declare it
    project_id = Column(BigInteger, ForeignKey('app.project.id'), nullable=False)
    title = Column(String(100), nullable=False)
    done = Column(Boolean, nullable=False, server_default=FetchedValue())
    version = Column(Integer, nullable=False)
    prio = Column(Integer, nullable=False, server_default=FetchedValue())
    parent_id = Column(BigInteger)
    __mapper_args__ = {'version_id_col': version, 'eager_defaults': True}


class TaskTrash(Base):
    __tablename__ = 'task_trash'
    __table_args__ = {'schema': 'app'}
    id = Column(BigInteger, primary_key=True)
    title = Column(String(100))


class Artifact(Base):
    __tablename__ = 'artifact'
    __table_args__ = {'schema': 'lamin'}
    id = Column(BigInteger, primary_key=True)
    uid = Column(String(20), server_default=FetchedValue())
    key = Column(String)
    suffix = Column(String)
    size = Column(BigInteger)
    __mapper_args__ = {'eager_defaults': True}


class ArtifactTrash(Base):
    __tablename__ = 'artifact_trash'
    __table_args__ = {'schema': 'lamin'}
    id = Column(BigInteger, primary_key=True)
    key = Column(String)


def crud():
    with Session(app) as s:
        t = Task(project_id=1, title='write tests')
        s.add(t)
        s.flush()
        check('INSERT through the view returns the key and the defaults (RETURNING)',
              isinstance(t.id, int) and t.id > 0 and t.done is False and t.prio == 0, (t.id, t.done, t.prio))
        s.commit()
        tid = t.id
    with Session(app) as s:
        t = s.get(Task, tid)
        check('read by key', t is not None and t.title == 'write tests' and t.version == 1)
        t.title = 'write more tests'
        s.commit()   # UPDATE ... WHERE id = ? AND version = ?: the ORM checks one row matched
        check('UPDATE with the version check (one row matched), version 2',
              t.version == 2 and q('SELECT title FROM app.task WHERE id = :id', id=tid) == 'write more tests')
        # trashed by someone else meanwhile: the ORM's row count check sees 0 rows
        with app.begin() as c:
            c.execute(text('DELETE FROM app.task WHERE id = :id'), {'id': tid})
        t.title = 'too late'
        err = error_of(s.commit)
        check('UPDATE of a row trashed meanwhile: StaleDataError (0 rows matched)',
              isinstance(err, StaleDataError), repr(err))
        s.rollback()
    with app.begin() as c:
        c.execute(text("SELECT lamin.restore('app.task', CAST(:id AS bigint))"), {'id': tid})
    check('lamin.restore() brought it back', branch_of(tid) == 1)

    # delete to trash, by the ORM (the version check verifies the row count) and in bulk
    with Session(app) as s:
        t = s.get(Task, tid)
        s.delete(t)
        s.commit()
    check('Session.delete(): the row is in the trash, not gone',
          branch_of(tid) == -1 and q('SELECT count(*) FROM app.task WHERE id = :id', id=tid) == 0)
    with Session(app) as s:
        s.add_all([Task(project_id=2, title='bulk %d' % i) for i in range(3)])
        s.commit()
        r = s.execute(delete(Task).where(Task.title.like('bulk %')).execution_options(synchronize_session=False))
        n = r.rowcount
        s.commit()
    check('bulk delete reports 3 rows, all 3 in the trash',
          n == 3 and q("SELECT count(*) FROM app.task_trash WHERE title LIKE 'bulk %'") == 3, n)
    with Session(app) as s:
        titles = [r.title for r in s.execute(select(TaskTrash).order_by(TaskTrash.id)).scalars()]
    check('the trash view read through its model', titles == ['write more tests', 'bulk 0', 'bulk 1', 'bulk 2'], titles)
    return tid


def upsert():
    tbl = Task.__table__

    def up(title):
        stmt = pg_insert(tbl).values(id=900001, project_id=1, title=title, version=1)
        stmt = stmt.on_conflict_do_update(index_elements=[tbl.c.id],
                                          set_={'title': stmt.excluded.title, 'version': tbl.c.version + 1})
        with app.begin() as c:
            return c.execute(stmt.returning(tbl.c.version)).scalar()
    v1, v2 = up('first'), up('second')
    check('insert().on_conflict_do_update() through the view: inserts, then updates',
          (v1, v2) == (1, 2) and q('SELECT title FROM app.task WHERE id = 900001') == 'second', (v1, v2))
    with app.begin() as c:
        c.execute(text('DELETE FROM app.task WHERE id = 900001'))
    err = error_of(lambda: up('third'))
    # the key is held by a trashed row: lamin_branch's 23505 says so, the trashed row is left as it was
    check('upsert whose key a trashed row holds: 23505 saying so, the row untouched',
          held_in_trash(err) and q('SELECT title FROM app.task_trash WHERE id = 900001') == 'second',
          repr(err))


def for_update(tid):
    with app.begin() as c:
        c.execute(text("SELECT lamin.restore('app.task', CAST(:id AS bigint))"), {'id': tid})
    with Session(app) as s1:
        t = s1.execute(select(Task).where(Task.id == tid).with_for_update()).scalar_one()
        check('SELECT ... FOR UPDATE through the view', t.id == tid)
        with app.connect() as c2:
            err = error_of(lambda: c2.execute(select(Task.__table__).where(Task.id == tid)
                                              .with_for_update(nowait=True)).all())
            check('the row is locked: FOR UPDATE NOWAIT elsewhere fails with 55P03', sqlstate(err) == '55P03', repr(err))
            c2.rollback()
            n = len(c2.execute(select(Task.__table__).where(Task.id == tid).with_for_update(skip_locked=True)).all())
            check('FOR UPDATE SKIP LOCKED elsewhere skips it', n == 0, n)
            c2.rollback()
        s1.rollback()


def restore_in_savepoint(tid):
    restore = text("SELECT action FROM lamin.restore('app.task', CAST(:id AS bigint))")
    with Session(app) as s:
        s.delete(s.get(Task, tid))
        s.flush()
        in_trash = s.execute(select(func.count()).select_from(TaskTrash).where(TaskTrash.id == tid)).scalar()
        sp = s.begin_nested()
        action = s.execute(restore, {'id': tid}).scalar()
        seen = s.execute(select(func.count()).select_from(Task).where(Task.id == tid)).scalar()
        sp.rollback()
        back = s.execute(select(func.count()).select_from(TaskTrash).where(TaskTrash.id == tid)).scalar()
        check('delete, then lamin.restore() in a savepoint, rolled back: in the trash again',
              in_trash == 1 and action == 'restored' and seen == 1 and back == 1,
              (in_trash, action, seen, back))
        action = s.execute(restore, {'id': tid}).scalar()
        s.commit()
    check('lamin.restore() in the transaction, committed: on main', action == 'restored' and branch_of(tid) == 1)


def artifacts():
    with Session(app) as s:
        a = Artifact(key='sa/data.parquet', suffix='.parquet', size=10)
        s.add(a)
        s.flush()
        check('artifact INSERT returns id and the generated uid', a.id > 0 and len(a.uid) == 20, (a.id, a.uid))
        s.commit()
        aid, uid = a.id, a.uid
        tbl = Artifact.__table__
        stmt = pg_insert(tbl).values(uid=uid, key='sa/data.parquet', suffix='.parquet', size=20)
        s.execute(stmt.on_conflict_do_update(index_elements=[tbl.c.uid], set_={'size': stmt.excluded.size}))
        s.commit()
        check('artifact upsert on uid updates the row', qa('SELECT size FROM lamin.artifact WHERE id = :id', id=aid) == 20)
        s.delete(s.get(Artifact, aid))
        s.commit()
        keys = [r.key for r in s.execute(select(ArtifactTrash).where(ArtifactTrash.id == aid)).scalars()]
        check('artifact Session.delete(): in lamin.artifact_trash', keys == ['sa/data.parquet'], keys)
        action = s.execute(text('SELECT action FROM lamin.artifact_restore(:id)'), {'id': aid}).scalar()
        s.commit()
        check('artifact_restore() in a transaction', action == 'restored' and s.get(Artifact, aid) is not None)


# --- models generated from the views --------------------------------------------------------------
def reflection():
    insp = inspect(owner)
    check('the view says what it is and names its key (COMMENT)',
          'key (id)' in (insp.get_table_comment('task', schema='app')['text'] or ''))
    # as is: automap maps only what has a key, and a view has none
    md0 = MetaData()
    md0.reflect(owner, schema='app', views=True, only=['task'])
    base0 = automap_base(metadata=md0)
    base0.prepare()
    check('automap of the view without a declared key maps nothing (documented: declare it)',
          not hasattr(base0.classes, 'task'))
    # declared: the key column given, the rest reflected
    md = MetaData()
    tv = Table('task', md, Column('id', BigInteger, primary_key=True), schema='app', autoload_with=owner)
    base = automap_base(metadata=md)
    base.prepare()
    cls = getattr(base.classes, 'task', None)
    check('automap of the view with Column(primary_key=True) declared: a class, every column reflected',
          cls is not None and {'id', 'title', 'done', 'prio', 'parent_id', 'branch_id'} <= set(tv.c.keys()),
          sorted(tv.c.keys()))
    check('the reflected view carries the table defaults',
          tv.c.done.server_default is not None and 'false' in str(tv.c.done.server_default.arg))
    with Session(app) as s:
        n = s.execute(select(func.count()).select_from(cls)).scalar()
        obj = cls(project_id=1, title='from automap')
        s.add(obj)
        s.flush()
        ok = obj.id is not None
        s.rollback()
    check('the automapped class reads main and inserts', n == q('SELECT count(*) FROM app.task') and ok, n)
    # declarative reflection with the key in __table_args__
    base2 = declarative_base()

    class TaskReflected(base2):
        __tablename__ = 'task'
        __table_args__ = (PrimaryKeyConstraint('id'), {'schema': 'app', 'autoload_with': owner})
    with Session(app) as s:
        n2 = s.execute(select(func.count()).select_from(TaskReflected)).scalar()
    check('declarative reflection with PrimaryKeyConstraint in __table_args__',
          [c.name for c in TaskReflected.__table__.primary_key.columns] == ['id'] and n2 == n)


section('migration', migration)
tid = None


def rows():
    global tid
    tid = crud()
    upsert()
    for_update(tid)
    restore_in_savepoint(tid)
    artifacts()


section('rows', rows)
section('reflection', reflection)
finish()
