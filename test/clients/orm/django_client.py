"""Django (3.2 and later) against app.project / app.task (rename mode) and lamin.artifact.
usage: django_client.py DRIVER SOCKET_DIR PORT DATABASE   (DRIVER: psycopg2 or psycopg)
Writes a minimal project (settings, manage.py, an app with migrations) into a temporary
directory, runs the migrations and inspectdb there as app_owner (manage.py), and the rows as
app_user (this file again, in "rows" and "cascade" mode, inside the project)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from checks import check, error_of, finish, held_in_trash, note, section, sqlstate  # noqa: E402

SETTINGS = '''
import os
import sys
if os.environ['LAMIN_DRIVER'] == 'psycopg2':
    sys.modules['psycopg'] = None   # Django 4.2 and later prefer psycopg 3 when both are installed
SECRET_KEY = 'client-test'
INSTALLED_APPS = ['tasks'] + (['gen'] if os.environ.get('LAMIN_GEN') else [])
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
USE_TZ = True


def db(user):
    return {'ENGINE': 'django.db.backends.postgresql', 'NAME': os.environ['LAMIN_DB'], 'USER': user,
            'HOST': os.environ['LAMIN_HOST'], 'PORT': os.environ['LAMIN_PORT'],
            'OPTIONS': {'options': '-c search_path=app,lamin'}}


# the application, a second session of it, and the owner who runs the migrations
DATABASES = {'default': db('app_user'), 'other': db('app_user'), 'owner': db('app_owner')}
'''

MANAGE = '''
import os
import sys
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
'''

# the models after the migrations; keys of views declared with primary_key=True and managed = False
MODELS = '''
import os
import secrets
import string

from django.db import models


def new_uid():
    return ''.join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16)) + '0000'


class Project(models.Model):
    name = models.TextField(unique=True)

    class Meta:
        db_table = 'project'


class Task(models.Model):
    # the database deletes a project's tasks (ON DELETE CASCADE) when the project is deleted for
    # good; Django leaves them alone, so that trashing a project keeps them
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING)
    title = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    version = models.IntegerField(default=1)
    prio = models.IntegerField(default=0)
    parent = models.ForeignKey('self', null=True, on_delete=models.DO_NOTHING, related_name='+')

    class Meta:
        db_table = 'task'


class Comment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.DO_NOTHING)
    body = models.TextField()

    class Meta:
        db_table = 'comment'


class TaskTrash(models.Model):
    id = models.BigIntegerField(primary_key=True)
    project_id = models.BigIntegerField()
    title = models.CharField(max_length=200)

    class Meta:
        managed = False
        db_table = 'task_trash'


class Artifact(models.Model):
    id = models.BigAutoField(primary_key=True)
    uid = models.CharField(max_length=20, unique=True, default=new_uid)
    key = models.CharField(max_length=1024, null=True)
    suffix = models.CharField(max_length=30, default='')
    size = models.BigIntegerField(null=True)

    class Meta:
        managed = False
        db_table = 'artifact'


class ArtifactTrash(models.Model):
    id = models.BigIntegerField(primary_key=True)
    key = models.CharField(max_length=1024, null=True)

    class Meta:
        managed = False
        db_table = 'artifact_trash'


if os.environ.get('LAMIN_CASCADE'):
    # Django's default, for the test that shows what enabling the child table keeps
    class CascadeTask(models.Model):
        project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name='+')
        title = models.CharField(max_length=200)

        class Meta:
            managed = False
            db_table = 'task'
'''

MIGRATION_1 = '''
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(name='Project', fields=[
            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ('name', models.TextField(unique=True))], options={'db_table': 'project'}),
        migrations.CreateModel(name='Task', fields=[
            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ('title', models.CharField(max_length=100)),
            ('done', models.BooleanField(default=False)),
            ('version', models.IntegerField(default=1)),
            ('project', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, to='tasks.project'))],
            options={'db_table': 'task'}),
        migrations.CreateModel(name='TaskTrash', fields=[
            ('id', models.BigIntegerField(primary_key=True, serialize=False)),
            ('project_id', models.BigIntegerField()),
            ('title', models.CharField(max_length=200))],
            options={'db_table': 'task_trash', 'managed': False}),
        migrations.CreateModel(name='Artifact', fields=[
            ('id', models.BigAutoField(primary_key=True, serialize=False)),
            ('uid', models.CharField(max_length=20, unique=True)),
            ('key', models.CharField(max_length=1024, null=True)),
            ('suffix', models.CharField(default='', max_length=30)),
            ('size', models.BigIntegerField(null=True))],
            options={'db_table': 'artifact', 'managed': False}),
        migrations.CreateModel(name='ArtifactTrash', fields=[
            ('id', models.BigIntegerField(primary_key=True, serialize=False)),
            ('key', models.CharField(max_length=1024, null=True))],
            options={'db_table': 'artifact_trash', 'managed': False}),
    ]
'''

# the migration under test: a column, a type change, a foreign key to the model's own table and
# a new table with a foreign key to it; Django aims all of it at "task", the main view
MIGRATION_2 = '''
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [('tasks', '0001_initial')]
    operations = [
        migrations.AddField(model_name='task', name='prio', field=models.IntegerField(default=0)),
        migrations.AlterField(model_name='task', name='title', field=models.CharField(max_length=200)),
        migrations.AddField(model_name='task', name='parent', field=models.ForeignKey(
            null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tasks.task')),
        migrations.CreateModel(name='Comment', fields=[
            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ('body', models.TextField()),
            ('task', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, to='tasks.task'))],
            options={'db_table': 'comment'}),
        migrations.RunSQL('GRANT SELECT, INSERT, UPDATE, DELETE ON comment TO app_user', migrations.RunSQL.noop),
    ]
'''


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def manage(proj, env, *args, **extra_env):
    return subprocess.run([sys.executable, 'manage.py'] + list(args), cwd=proj, capture_output=True, text=True,
                          env=dict(env, **extra_env))


# ---------------------------------------------------------------------------------------------
# "rows" and "cascade" modes: inside the project, as app_user
def rows_mode():
    import django
    django.setup()
    from django.db import DatabaseError, IntegrityError, connection, connections, transaction
    from tasks.models import Artifact, ArtifactTrash, Project, Task, TaskTrash

    driver = os.environ['LAMIN_DRIVER']
    note('Django %s with %s' % (django.get_version(), driver))
    mod = connection.Database.__name__
    check('the %s driver is the one in use' % driver, mod.split('.')[0] == driver, mod)

    def owner_value(sql, params=()):
        with connections['owner'].cursor() as c:
            c.execute(sql, params)
            return c.fetchone()[0]

    def branch_of(pk):
        return owner_value('SELECT branch_id FROM app.task_all WHERE id = %s', [pk])

    def restore(pk):
        with connection.cursor() as c:
            c.execute("SELECT action FROM lamin.restore('app.task', %s::bigint)", [pk])
            return c.fetchone()[0]

    def migration():
        cols = owner_value("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attname)"
                           " FROM pg_attribute WHERE attrelid = 'app.task_all'::regclass"
                           " AND attname IN ('prio', 'parent_id', 'title') AND NOT attisdropped")
        check('the migration added prio and parent_id and made title varchar(200), on app.task_all',
              cols == 'parent_id bigint, prio integer, title character varying(200)', cols)
        with connections['owner'].cursor() as c:
            c.execute("SELECT conrelid::regclass::text FROM pg_constraint"
                      " WHERE contype = 'f' AND confrelid = 'app.task_all'::regclass")
            fks = sorted(r[0] for r in c.fetchall())
        check('its foreign keys to "task" point at app.task_all (search_path app)', fks == ['comment', 'task_all'], fks)
        check('the views show the new columns',
              owner_value("SELECT count(*) FROM pg_attribute WHERE attname IN ('prio', 'parent_id')"
                          " AND attrelid IN ('app.task'::regclass, 'app.task_trash'::regclass)") == 4)

    def crud():
        t = Task.objects.create(project_id=1, title='write tests')
        check('create(): INSERT ... RETURNING the key', isinstance(t.pk, int) and t.pk > 0, t.pk)
        check('read by key', Task.objects.get(pk=t.pk).title == 'write tests')
        t.title = 'write more tests'
        t.save()   # UPDATE; Django inserts when no row matched
        check('save(): UPDATE matched the row (no second row inserted)',
              list(Task.objects.filter(title__in=['write tests', 'write more tests']).values_list('pk', flat=True)) == [t.pk])
        check('queryset update() counts 1 row', Task.objects.filter(pk=t.pk).update(done=True) == 1)
        # trashed meanwhile: the row counts Django checks
        with connections['other'].cursor() as c:
            c.execute('DELETE FROM task WHERE id = %s', [t.pk])
        t.title = 'too late'
        err = error_of(lambda: t.save(update_fields=['title']))
        check('save(update_fields=...) of a row trashed meanwhile: "did not affect any rows"',
              isinstance(err, DatabaseError) and 'did not affect any rows' in str(err), repr(err))
        err = error_of(lambda: t.save())
        check('save() of a row trashed meanwhile: UPDATE matched 0 rows, the INSERT fails with 23505 saying so',
              isinstance(err, IntegrityError) and held_in_trash(err), repr(err))
        check('lamin.restore() brings it back', restore(t.pk) == 'restored' and branch_of(t.pk) == 1)
        n = Task.objects.get(pk=t.pk).delete()
        check('Model.delete(): 1 row, in the trash, not gone',
              n[0] == 1 and branch_of(t.pk) == -1 and TaskTrash.objects.filter(pk=t.pk).count() == 1, n)
        for i in range(3):
            Task.objects.create(project_id=2, title='bulk %d' % i)
        n = Task.objects.filter(title__startswith='bulk ').delete()
        check('QuerySet.delete(): 3 rows, all in the trash',
              n[0] == 3 and TaskTrash.objects.filter(title__startswith='bulk ').count() == 3, n)
        titles = list(TaskTrash.objects.order_by('id').values_list('title', flat=True))
        check('the trash view read through its model', titles == ['write more tests', 'bulk 0', 'bulk 1', 'bulk 2'], titles)
        return t.pk

    def upsert():
        major, minor = django.VERSION[:2]
        if (major, minor) < (4, 1):
            note('Django %s has no bulk_create(update_conflicts=True) (4.1 has): the upsert is not run here'
                 % django.get_version())
            return

        def up(title):
            Task.objects.bulk_create([Task(id=900001, project_id=1, title=title)], update_conflicts=True,
                                     unique_fields=['id'], update_fields=['title'])
        up('first')
        up('second')
        check('bulk_create(update_conflicts=True) through the view: inserts, then updates',
              list(Task.objects.filter(pk=900001).values_list('title', flat=True)) == ['second'])
        Task.objects.filter(pk=900001).delete()
        err = error_of(lambda: up('third'))
        check('upsert whose key a trashed row holds: 23505 saying so, the row untouched',
              held_in_trash(err) and TaskTrash.objects.get(pk=900001).title == 'second', repr(err))

    def for_update(pk):
        restore(pk)
        with transaction.atomic():
            t = Task.objects.select_for_update().get(pk=pk)
            check('select_for_update() through the view', t.pk == pk)
            other = Task.objects.using('other')

            def nowait():
                with transaction.atomic(using='other'):
                    list(other.select_for_update(nowait=True).filter(pk=pk))
            err = error_of(nowait)
            check('the row is locked: select_for_update(nowait=True) elsewhere fails with 55P03',
                  sqlstate(err) == '55P03', repr(err))
            with transaction.atomic(using='other'):
                n = len(list(other.select_for_update(skip_locked=True).filter(pk=pk)))
            check('select_for_update(skip_locked=True) elsewhere skips it', n == 0, n)

    def restore_in_savepoint(pk):
        class Undo(Exception):
            pass
        with transaction.atomic():
            Task.objects.get(pk=pk).delete()
            in_trash = TaskTrash.objects.filter(pk=pk).exists()
            try:
                with transaction.atomic():   # a savepoint
                    action = restore(pk)
                    seen = Task.objects.filter(pk=pk).exists()
                    raise Undo
            except Undo:
                pass
            back = TaskTrash.objects.filter(pk=pk).exists()
            check('delete, then lamin.restore() in a savepoint, rolled back: in the trash again',
                  in_trash and action == 'restored' and seen and back, (in_trash, action, seen, back))
            action = restore(pk)
        check('lamin.restore() in transaction.atomic(), committed: on main',
              action == 'restored' and branch_of(pk) == 1 and Task.objects.filter(pk=pk).exists())

    def artifacts():
        a = Artifact.objects.create(key='django/data.parquet', suffix='.parquet', size=10)
        check('artifact create(): INSERT ... RETURNING the key', a.pk > 0 and len(a.uid) == 20)
        aid = a.pk
        n = a.delete()   # sets a.pk to None
        check('artifact delete(): 1 row, in lamin.artifact_trash',
              n[0] == 1 and list(ArtifactTrash.objects.filter(pk=aid).values_list('key', flat=True)) == ['django/data.parquet'], n)
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute('SELECT action FROM lamin.artifact_restore(%s)', [aid])
                action = c.fetchone()[0]
        check('artifact_restore() in a transaction', action == 'restored' and Artifact.objects.filter(pk=aid).exists())
        if django.VERSION[:2] >= (4, 1):
            Artifact.objects.bulk_create([Artifact(uid=a.uid, key=a.key, suffix='.parquet', size=20)], update_conflicts=True,
                                         unique_fields=['uid'], update_fields=['size'])
            check('artifact upsert on uid updates the row', Artifact.objects.get(pk=aid).size == 20)

    def parent_delete():
        # the documented pattern: on_delete=DO_NOTHING, the database's ON DELETE CASCADE
        p = Project.objects.create(name='gamma')
        kids = [Task.objects.create(project=p, title='gamma %d' % i).pk for i in range(2)]
        pid = p.pk
        n = p.delete()   # sets p.pk to None
        check('deleting a project (DO_NOTHING): 1 row, to the trash; its tasks stay on main',
              n[0] == 1 and owner_value('SELECT branch_id FROM app.project_all WHERE id = %s', [pid]) == -1
              and Task.objects.filter(pk__in=kids).count() == 2, n)
        with connection.cursor() as c:
            c.execute("SELECT action FROM lamin.restore('app.project', %s::bigint)", [pid])
        check('the project restored: it and its tasks on main',
              Project.objects.filter(pk=pid).exists() and Task.objects.filter(project_id=pid).count() == 2)
        Project.objects.filter(pk=pid).delete()
        with connection.cursor() as c:
            c.execute('DELETE FROM project_trash WHERE id = %s', [pid])
            purged = c.rowcount
        check("purging the project from the trash: the database's ON DELETE CASCADE deletes its tasks for good",
              purged == 1 and owner_value('SELECT count(*) FROM app.task_all WHERE project_id = %s', [pid]) == 0)

    section('migration', migration)

    def all_rows():
        pk = crud()
        upsert()
        for_update(pk)
        restore_in_savepoint(pk)
        artifacts()
        parent_delete()
    section('rows', all_rows)


def cascade_mode():
    import django
    django.setup()
    from django.db import connection
    from tasks.models import CascadeTask, Project, Task, TaskTrash
    p = Project.objects.create(name='delta')
    kids = [Task.objects.create(project=p, title='delta %d' % i).pk for i in range(2)]
    pid = p.pk
    n = p.delete()   # Django's collector deletes the tasks itself, then the project
    check("on_delete=CASCADE (Django deletes the children itself): the enabled child table keeps them, in the trash",
          n[0] == 3 and n[1].get(CascadeTask._meta.label) == 2 and TaskTrash.objects.filter(pk__in=kids).count() == 2, n)
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM lamin.restore('app.project', %s::bigint)", [pid])
        c.execute("SELECT count(*) FROM lamin.restore_many('app.task', %s::bigint[])", [kids])
    check('restoring the project and its tasks brings all back', Task.objects.filter(project_id=pid).count() == 2)


# ---------------------------------------------------------------------------------------------
def main():
    driver, host, port, db = sys.argv[1:5]
    proj = tempfile.mkdtemp(prefix='lamin_django.')
    try:
        write(os.path.join(proj, 'settings.py'), SETTINGS)
        write(os.path.join(proj, 'manage.py'), MANAGE)
        write(os.path.join(proj, 'tasks', '__init__.py'), '')
        write(os.path.join(proj, 'tasks', 'models.py'), MODELS)
        write(os.path.join(proj, 'tasks', 'migrations', '__init__.py'), '')
        write(os.path.join(proj, 'tasks', 'migrations', '0001_initial.py'), MIGRATION_1)
        write(os.path.join(proj, 'tasks', 'migrations', '0002_prio_parent_comment.py'), MIGRATION_2)
        write(os.path.join(proj, 'gen', '__init__.py'), '')
        write(os.path.join(proj, 'gen', 'models.py'), '')
        env = dict(os.environ, DJANGO_SETTINGS_MODULE='settings', LAMIN_DRIVER=driver, LAMIN_HOST=host,
                   LAMIN_PORT=port, LAMIN_DB=db, PYTHONPATH=proj + os.pathsep + HERE)

        # the tables exist: the first migration is recorded as applied (--fake-initial does not
        # look at views, so it is named), the second runs, as app_owner
        r = manage(proj, env, 'migrate', 'tasks', '0001', '--fake', '--database', 'owner')
        check('migrate tasks 0001 --fake', r.returncode == 0, r.stdout + r.stderr)
        r = manage(proj, env, 'migrate', 'tasks', '--database', 'owner')
        check('migrate: AddField, AlterField, a ForeignKey to "task" and a new model referencing it run on the view\'s name',
              r.returncode == 0 and 'Applying tasks.0002_prio_parent_comment... OK' in r.stdout, r.stdout + r.stderr)

        for mode in ('rows', 'cascade'):
            print('-- %s (as app_user)' % mode, flush=True)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), mode], cwd=proj, env=dict(
                env, LAMIN_CASCADE='1' if mode == 'cascade' else ''), capture_output=True, text=True)
            sys.stdout.write(r.stdout)
            sys.stdout.write(r.stderr)
            check('the %s checks ran to the end' % mode, r.returncode == 0, r.returncode)

        # models generated from the view
        r = manage(proj, env, 'inspectdb', '--database', 'owner', '--include-views', 'task')
        src = r.stdout
        check('inspectdb of the view: a model with managed = False and db_table "task"',
              r.returncode == 0 and 'class Task(models.Model):' in src and 'managed = False' in src
              and "db_table = 'task'" in src, r.stdout + r.stderr)
        write(os.path.join(proj, 'gen', 'models.py'), src)
        r = manage(proj, env, 'check', LAMIN_GEN='1')
        check('manage.py check of the model as generated fails with models.E004 (id is not declared the key)',
              r.returncode != 0 and 'models.E004' in r.stdout + r.stderr, r.stdout + r.stderr)
        fixed, n = re.subn(r'^(\s+)id = models\.BigIntegerField\([^)]*\)', r'\1id = models.BigIntegerField(primary_key=True)',
                           src, flags=re.M)
        write(os.path.join(proj, 'gen', 'models.py'), fixed)
        r = manage(proj, env, 'check', LAMIN_GEN='1')
        check('with primary_key=True declared on id, manage.py check passes', n == 1 and r.returncode == 0,
              r.stdout + r.stderr)
        r = manage(proj, env, 'shell', '-c', 'from gen.models import Task; print(Task.objects.filter(pk__gt=0).count())',
                   LAMIN_GEN='1')
        # (Django 5.2's shell first says what it imported)
        check('the generated model reads main', r.returncode == 0 and r.stdout.strip().splitlines()[-1:] == ['3'],
              r.stdout + r.stderr)
    finally:
        shutil.rmtree(proj, ignore_errors=True)
    finish()


if __name__ == '__main__':
    if len(sys.argv) == 2 and sys.argv[1] in ('rows', 'cascade'):
        sys.path.insert(0, os.getcwd())
        os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')
        section(sys.argv[1], rows_mode if sys.argv[1] == 'rows' else cascade_mode)
        finish()
    main()
