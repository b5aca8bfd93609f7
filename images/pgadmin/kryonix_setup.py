"""Non-interactive setup of pgAdmin 4 for the kryonix pgadmin image, run by the entrypoint as the
pgadmin user before gunicorn starts.

It does what a first start of pgAdmin (with PGADMIN_SETUP_EMAIL / PGADMIN_SETUP_PASSWORD, pgAdmin's
documented way to create the first user without a prompt), `setup.py add-user` / `update-user`
and `setup.py load-servers` do, in one
process, with the password read from standard input: it is never on a command line nor in the
environment of any process (the two variables are set inside this process only, after it
started, and removed once the configuration database exists).

usage: kryonix_setup.py EMAIL [SERVERS_JSON]   (password on stdin, first line)

- installs the password file PGADMIN_PGPASS_FILE (default /run/kryonix/pgadmin-pgpass, libpq's
  pgpass format, uploaded by the stack) as `.pgpass` in the user's storage directory, mode 0600
  owned by pgadmin (libpq ignores a pgpass that others can read): servers.json names it as the
  PassFile `/.pgpass`, which pgAdmin resolves in that directory. Without the file, an earlier copy
  is removed;
- installs the stack CA (PGADMIN_CA_FILE, default /etc/kryonix/tls/ca.crt) as `kryonix-ca.crt`
  in the same directory: servers.json names it as the servers' sslrootcert `/kryonix-ca.crt`
  (sslmode verify-full);

- creates or upgrades the configuration database (SQLite under DATA_DIR);
- makes sure the internal user EMAIL exists, as an Administrator, with that password (a changed
  password file updates it);
- loads SERVERS_JSON for that user whenever its content differs from the last one loaded,
  replacing the servers of the same name in the same group; servers added in the UI stay.
"""
import builtins
import hashlib
import json
import os
import sys
import warnings

PGADMIN_DIR = os.environ.get('PGADMIN_DIR', '/opt/pgadmin4')
MIN_PASSWORD_LENGTH = 6


def fail(msg):
    print('kryonix-setup: error: %s' % msg, file=sys.stderr)
    sys.exit(1)


def info(msg):
    print('kryonix-setup: %s' % msg, file=sys.stderr)


def main():
    if len(sys.argv) not in (2, 3):
        fail('usage: kryonix_setup.py EMAIL [SERVERS_JSON] (password on stdin)')
    email = sys.argv[1].strip()
    servers_file = sys.argv[2] if len(sys.argv) == 3 else None
    password = sys.stdin.readline().rstrip('\r\n')
    if not email:
        fail('PGADMIN_DEFAULT_EMAIL is empty')
    if len(password) < MIN_PASSWORD_LENGTH:
        fail('the pgAdmin password must be at least %d characters' % MIN_PASSWORD_LENGTH)

    sys.path.insert(0, PGADMIN_DIR)
    builtins.SERVER_MODE = True
    # pgAdmin's own migrations warn about their unnamed constraints: nothing an operator can act on.
    warnings.filterwarnings('ignore', category=UserWarning, module='alembic')
    # Read by the first migration of a new configuration database (pgadmin.setup.user_info).
    os.environ['PGADMIN_SETUP_EMAIL'] = email
    os.environ['PGADMIN_SETUP_PASSWORD'] = password

    import config
    from pgadmin import create_app
    from pgadmin.model import db, Role, Server, ServerGroup, User
    from pgadmin.tools.user_management import create_user, update_user
    from pgadmin.utils import load_database_servers
    from pgadmin.utils.constants import INTERNAL

    new_db = not os.path.exists(config.SQLITE_PATH)
    # Not in pgAdmin's CLI mode: the application itself creates the configuration database (its
    # first migration creating the user from PGADMIN_SETUP_*) or upgrades it, as on a first
    # start of pgAdmin4.py.
    app = create_app()
    del os.environ['PGADMIN_SETUP_EMAIL']
    del os.environ['PGADMIN_SETUP_PASSWORD']
    info('configuration database %s: %s' % ('created' if new_db else 'up to date', config.SQLITE_PATH))

    with app.test_request_context():
        from flask_security.utils import verify_password

        admin_role = Role.query.filter_by(name='Administrator').first()
        user = User.query.filter_by(username=email, auth_source=INTERNAL).first()
        if user is None:
            ok, msg = create_user({
                'email': email, 'role': admin_role.id, 'active': True,
                'auth_source': INTERNAL,
                'newPassword': password, 'confirmPassword': password,
            })
            if not ok:
                fail('could not create the user %s: %s' % (email, msg))
            info('user %s created' % email)
        elif not verify_password(password, user.password):
            ok, msg = update_user(user.id, {'newPassword': password, 'confirmPassword': password})
            if not ok:
                fail('could not update the password of %s: %s' % (email, msg))
            info('user %s: password updated from the password file' % email)
        elif new_db:
            info('user %s created' % email)
        else:
            info('user %s exists' % email)
        user = User.query.filter_by(username=email, auth_source=INTERNAL).first()
        if not user.active:
            update_user(user.id, {'active': True})

        install_pgpass(config.STORAGE_DIR, email)
        install_ca(config.STORAGE_DIR, email)

        if servers_file:
            load_servers(servers_file, user, db, Server, ServerGroup, load_database_servers,
                         INTERNAL, config.DATA_DIR)


def install_pgpass(storage_root, email):
    source = os.environ.get('PGADMIN_PGPASS_FILE', '/run/kryonix/pgadmin-pgpass')
    if install_user_file(storage_root, email, source, '.pgpass', 0o600):
        info('password file for the registered servers installed in the storage directory')


def install_ca(storage_root, email):
    """The stack CA as kryonix-ca.crt in the user's storage directory: servers.json names it as
    the servers' sslrootcert (/kryonix-ca.crt), which pgAdmin resolves there, like the PassFile."""
    source = os.environ.get('PGADMIN_CA_FILE', '/etc/kryonix/tls/ca.crt')
    if install_user_file(storage_root, email, source, 'kryonix-ca.crt', 0o644):
        info('stack CA for the registered servers installed in the storage directory')


def install_user_file(storage_root, email, source, name, mode):
    """Copies source to NAME in the user's storage directory with MODE (replacing it atomically);
    without a source, an earlier copy is removed. Returns whether a copy was installed."""
    from pgadmin.utils.paths import preprocess_username
    user_dir = os.path.join(storage_root, preprocess_username(email))
    target = os.path.join(user_dir, name)
    if not os.path.isfile(source):
        if os.path.exists(target):
            os.remove(target)
            info('no %s: removed the earlier %s' % (source, target))
        return False
    os.makedirs(user_dir, 0o700, exist_ok=True)
    with open(source, 'rb') as f:
        content = f.read()
    tmp = target + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, target)
    return True


def load_servers(servers_file, user, db, Server, ServerGroup, load_database_servers, internal,
                 data_dir):
    with open(servers_file, 'rb') as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    marker = os.path.join(data_dir, '.kryonix-servers.sha256')
    try:
        with open(marker) as f:
            if f.read().strip() == digest:
                info('servers from %s already loaded' % servers_file)
                return
    except FileNotFoundError:
        pass
    try:
        data = json.loads(raw)
        servers = list(data['Servers'].values())
    except (ValueError, KeyError, AttributeError) as e:
        fail('%s is not a pgAdmin servers file: %s' % (servers_file, e))
    # Replace what an earlier servers.json registered (same group and name) instead of adding a
    # second copy; everything else the user registered is left alone.
    for entry in servers:
        group = ServerGroup.query.filter_by(user_id=user.id, name=entry.get('Group')).first()
        if group is None:
            continue
        for old in Server.query.filter_by(user_id=user.id, servergroup_id=group.id,
                                          name=entry.get('Name')).all():
            db.session.delete(old)
    db.session.commit()
    # from_setup=True: errors are printed and exit non-zero, like `setup.py load-servers`.
    load_database_servers(servers_file, None, user, True, internal)
    with open(marker, 'w') as f:
        f.write(digest + '\n')
    info('servers from %s loaded for %s' % (servers_file, user.username))


if __name__ == '__main__':
    main()
