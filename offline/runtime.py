"""The offline runtime: moto + the template's resources + the functions + the local API, in one process."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from offline.auth import AppClient, TokenService, User, app_client_from_cognito
from offline.catalogue import seed_catalogue
from offline.cfn import Stack, load_template
from offline.functions import FunctionPool
from offline.gateway import ApiServer, LocalApi
from offline.hosted_ui import HostedUi
from offline.local_models import LocalModels
from offline.persistence import DirtyTracker, StateStore, start_moto
from offline.portal import Portal, PortalConfig, offline_config
from offline.provision import provision
from offline.sam import Application, read_application
from offline.sqs_events import SqsEventSources
from offline.stepfunctions import enable_execution, install_lambda_dispatch
from offline.textract import handle_injection as textract_results
from offline.textract import install_textract_emulation

log = logging.getLogger("offline")

ACCOUNT_ID = "123456789012"  # moto's default account
DEMO_APP_NAME = "demo-app"
# Template parameters whose AWS defaults name what only exists in AWS: the offline catalogue's embedding model.
OFFLINE_PARAMETERS = {"DefaultEmbeddingModel": "minilm"}
# POST here the Textract blocks the next analysis of a document should return (nothing offline reads images).
TEXTRACT_RESULTS_PATH = "/_offline/textract/results"
ADMIN_EMAIL = "admin@example.com"
# The admin portal's app client (template: AdminPortalClient) and where its build is served from.
PORTAL_CLIENT_NAME = "admin-portal"
PORTAL_DIST = Path("admin-ui") / "dist"


@dataclass
class RuntimeConfig:
    template: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 3000
    moto_port: int = 0  # 0 = a free port
    region: str = "us-east-1"
    stack_name: str = "genai-local"
    parameters: dict[str, str] = field(default_factory=dict)
    max_concurrency: int = 4
    prewarm: bool = True


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    admin_username: str | None
    admin_password: str | None


class OfflineRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.moto: Any = None
        self.api_server: ApiServer | None = None
        self.pool: FunctionPool | None = None
        self.stack: Stack | None = None
        self.app: Application | None = None
        self.credentials: Credentials | None = None
        self.model_aliases: list[str] = []
        self.portal_client_id: str | None = None
        self._stoppers: list[Any] = []
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # -- clients -----------------------------------------------------------------------------------------------
    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def client(self, service: str) -> Any:
        """A boto3 client on the local moto, created once per service (creation is not thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.moto_url,
                    region_name=self.config.region,
                    aws_access_key_id="offline",
                    aws_secret_access_key="offline",  # noqa: S106 - moto accepts any credentials
                    config=Config(retries={"max_attempts": 2}),
                )
            return self._clients[service]

    # -- start/stop --------------------------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        # The API's port first: a taken port fails here at once, before moto and provisioning take seconds
        # (and before anything is written to the state folder). Requests arriving during the start-up wait in
        # the listen queue and are answered when _start_api begins serving.
        self.api_server = ApiServer(cfg.host, cfg.port)
        make_private(cfg.state_dir)
        self._start_moto()
        # Before any state machine exists: moto only executes machines created while execution is on.
        self._stoppers.append(enable_execution(self.moto_port))
        # moto's Textract ignores the completion topic and paging; the emulation adds both (offline/textract.py).
        self._stoppers.append(install_textract_emulation())
        self.stack = Stack(
            load_template(cfg.template),
            root=cfg.template.parent,
            stack_name=cfg.stack_name,
            region=cfg.region,
            account_id=ACCOUNT_ID,
            parameter_overrides={**OFFLINE_PARAMETERS, "AdminPortalUrl": self.portal_url, **cfg.parameters},
        )
        provision(self.stack, self.client)
        self._restore_state()
        self.portal_client_id = self._register_portal_callback()
        self.app = read_application(self.stack)
        self.credentials = self._seed()
        self.model_aliases = seed_catalogue(self.app, self.client("dynamodb"), f"{self.api_server.url}/local-models/v1")
        self.pool = FunctionPool(
            self.app.functions,
            base_env=self._function_env(),
            log_dir=cfg.state_dir / "logs",
            max_concurrency=cfg.max_concurrency,
        )
        self._stoppers.append(install_lambda_dispatch(self.pool))
        sources = SqsEventSources.from_stack(self.client("sqs"), self.pool, self.app.sqs_sources, self.stack)
        sources.start()
        self._stoppers.append(sources.stop)
        self._start_api()
        if cfg.prewarm:
            for function_id in self.app.functions:
                threading.Thread(target=self._warm, args=(function_id,), daemon=True).start()

    def _warm(self, function_id: str) -> None:
        try:
            assert self.pool
            self.pool.warm(function_id)
        except Exception as exc:  # a function that cannot start reports it on its first request too
            log.warning("could not start %s: %s", function_id, exc)

    def _start_moto(self) -> None:
        port = self.config.moto_port or _free_port()
        # moto's Step Functions interpreter calls back into moto on MOTO_PORT.
        os.environ["MOTO_PORT"] = str(port)
        self.tracker = DirtyTracker()
        self.moto = start_moto(port, self.tracker)
        self.moto_port = port

    def _restore_state(self) -> None:
        """Put back what the last run saved, then keep saving what changes (every 2 s and at shutdown)."""
        assert self.stack
        self.store = StateStore(
            self.config.state_dir / "aws", self.moto_url, self.config.region, ACCOUNT_ID, tracker=self.tracker
        )
        report = self.store.restore()
        # Pools were re-created with new ids; the restore gave them their old ones back.
        for fresh, restored in report.rekeyed_user_pools.items():
            for name, value in list(self.stack.refs.items()):
                self.stack.refs[name] = value.replace(fresh, restored)
            for attr, value in list(self.stack.attrs.items()):
                self.stack.attrs[attr] = value.replace(fresh, restored)
        stop = threading.Event()

        def save_loop() -> None:
            while not stop.wait(2.0):
                try:
                    self.store.save_if_dirty()
                except Exception:
                    log.exception("saving the offline state failed; will retry")

        saver = threading.Thread(target=save_loop, name="state-saver", daemon=True)
        saver.start()

        def final_save() -> None:
            stop.set()
            saver.join(timeout=5)
            self.store.save_if_dirty()

        self._stoppers.append(final_save)

    @property
    def base_url(self) -> str:
        """The runtime's URL as the portal uses it: `localhost`, the only http host the template's AdminPortalUrl
        (the portal client's callback) allows, at the port the API listens on."""
        assert self.api_server
        return f"http://localhost:{self.api_server.server_address[1]}"

    @property
    def portal_url(self) -> str:
        return f"{self.base_url}/admin/"

    def _register_portal_callback(self) -> str | None:
        """The portal client's id, its callback and sign-out URLs being this runtime's portal URL.

        A restored state keeps the client of an earlier run, whose callback may name another port: the current
        URL is put first (kept with the others, so a state folder can be shared by runtimes on two ports).
        """
        idp = self.client("cognito-idp")
        for pool_id in self._domain_pool_ids():
            clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
            for summary in clients:
                if summary["ClientName"] != PORTAL_CLIENT_NAME:
                    continue
                client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=summary["ClientId"])[
                    "UserPoolClient"
                ]
                callbacks = client.get("CallbackURLs") or []
                if callbacks[:1] != [self.portal_url]:
                    urls = [self.portal_url, *(u for u in callbacks if u != self.portal_url)]
                    logouts = [self.portal_url, *(u for u in client.get("LogoutURLs") or [] if u != self.portal_url)]
                    keep = {
                        k: client[k]
                        for k in (
                            "ClientName",
                            "AllowedOAuthFlows",
                            "AllowedOAuthScopes",
                            "AllowedOAuthFlowsUserPoolClient",
                            "SupportedIdentityProviders",
                            "ExplicitAuthFlows",
                        )
                        if k in client
                    }
                    idp.update_user_pool_client(
                        UserPoolId=pool_id, ClientId=client["ClientId"], CallbackURLs=urls, LogoutURLs=logouts, **keep
                    )
                return str(client["ClientId"])
        return None

    def _portal_config(self) -> PortalConfig | None:
        return offline_config(self.base_url, self.portal_client_id) if self.portal_client_id else None

    def _function_env(self) -> dict[str, str]:
        return {
            "AWS_REGION": self.config.region,
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_ACCESS_KEY_ID": "offline",
            "AWS_SECRET_ACCESS_KEY": "offline",
            "AWS_ENDPOINT_URL": self.moto_url,
            "OFFLINE_RUNTIME": "1",
            # The embedded vector store (SQLite + sqlite-vec + FTS5) in one file, shared by every function.
            "VECTOR_STORE_PATH": str(self.config.state_dir / "vectors.sqlite"),
        }

    def _pool_ids(self) -> dict[str, str]:
        assert self.stack
        return {lid: self.stack.refs[lid] for lid, _ in self.stack.of_type("AWS::Cognito::UserPool")}

    def _domain_pool_ids(self) -> list[str]:
        """Pools with a domain: the ones whose /oauth2 endpoints (token, Hosted UI) the runtime serves."""
        assert self.stack
        return [
            str(self.stack.resolve(spec["Properties"]["UserPoolId"]))
            for _, spec in self.stack.of_type("AWS::Cognito::UserPoolDomain")
        ]

    def _apps_pool_id(self) -> str | None:
        """The pool of the API's default authorizer: the one apps get client-credentials tokens from."""
        assert self.stack and self.app
        for route in self.app.routes:
            api_auth = ((self.stack.resources.get(route.api_id) or {}).get("Properties") or {}).get("Auth") or {}
            if route.authorizer and route.authorizer == api_auth.get("DefaultAuthorizer") and route.user_pool_id:
                return self.stack.refs[route.user_pool_id]
        return None

    def _lookup_client(self, client_id: str) -> AppClient | None:
        """A client of any pool with a domain (client ids are unique across pools)."""
        idp = self.client("cognito-idp")
        for pool_id in self._domain_pool_ids():
            try:
                desc = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
            except ClientError:
                continue
            return app_client_from_cognito(desc["UserPoolClient"])
        return None

    def _verify_user(self, pool_id: str, client_id: str, username: str, password: str) -> User | None:
        """Cognito's password check for the Hosted UI stand-in: an enabled, confirmed user with this password."""
        idp = self.client("cognito-idp")
        for name in dict.fromkeys([username, username.lower()]):
            try:
                user = idp.admin_get_user(UserPoolId=pool_id, Username=name)
            except ClientError:
                continue
            if not user.get("Enabled", True) or user.get("UserStatus") != "CONFIRMED":
                return None
            try:
                idp.admin_initiate_auth(
                    UserPoolId=pool_id,
                    ClientId=client_id,
                    AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": name, "PASSWORD": password},
                )
            except ClientError:
                return None
            attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
            groups = idp.admin_list_groups_for_user(UserPoolId=pool_id, Username=name)["Groups"]
            return User(
                username=user["Username"],
                sub=attributes.get("sub", user["Username"]),
                email=attributes.get("email"),
                groups=tuple(sorted(g["GroupName"] for g in groups)),
            )
        return None

    def _start_api(self) -> None:
        cfg, stack, app = self.config, self.stack, self.app
        assert stack and app and self.pool
        tokens = TokenService(cfg.state_dir / "token-signing-key.pem", cfg.region)
        stage = str(stack.parameters.get("Stage") or "local")
        for _, spec in stack.of_type("AWS::Serverless::Api"):
            stage = str(stack.resolve((spec.get("Properties") or {}).get("StageName", stage)))
        api = LocalApi(
            routes=app.routes,
            pool=self.pool,
            tokens=tokens,
            pool_ids=self._pool_ids(),
            gateway_responses=app.gateway_responses,
            stage=stage,
            account_id=ACCOUNT_ID,
            client_lookup=self._lookup_client,
            hosted_ui=HostedUi(tokens, self._lookup_client, self._verify_user),
            local_models=LocalModels(),
            runtime_hooks={("POST", TEXTRACT_RESULTS_PATH): textract_results},
            portal=Portal(cfg.template.parent / PORTAL_DIST, self._portal_config),
        )
        assert self.api_server
        self.api_server.start(api)

    def stop(self) -> None:
        """Stop taking requests, stop the event sources, save the state, then end workers and moto."""
        if self.api_server:
            self.api_server.stop()
        for stopper in reversed(self._stoppers):
            stopper()
        if self.pool:
            self.pool.close()
        if self.moto:
            self.moto.stop()

    # -- demo app and admin --------------------------------------------------------------------------------------
    def _seed(self) -> Credentials | None:
        """A demo app with every scope and an admin user, created once and kept in the state folder."""
        assert self.stack
        path = self.config.state_dir / "credentials.json"
        app_pool = self._apps_pool_id()
        if app_pool is None:
            return None
        idp = self.client("cognito-idp")
        if path.exists():
            saved = json.loads(path.read_text())
            if self._lookup_client(saved["client_id"]) is not None:
                return Credentials(**{**saved, "scopes": tuple(saved["scopes"])})
        scopes = []
        for _, spec in self.stack.of_type("AWS::Cognito::UserPoolResourceServer"):
            props = self.stack.resolve(spec["Properties"])
            if props["UserPoolId"] == app_pool:
                scopes += [f"{props['Identifier']}/{s['ScopeName']}" for s in props.get("Scopes") or []]
        client_id, client_secret = _layer_create_app_client()(idp, app_pool, DEMO_APP_NAME, scopes)
        admin_user, admin_password = self._seed_admin(idp)
        creds = Credentials(
            client_id=client_id,
            client_secret=client_secret,
            scopes=tuple(scopes),
            admin_username=admin_user,
            admin_password=admin_password,
        )
        path.touch(mode=0o600)
        path.write_text(json.dumps(creds.__dict__, indent=2))
        return creds

    def _seed_admin(self, idp: Any) -> tuple[str | None, str | None]:
        assert self.stack
        for _, spec in self.stack.of_type("AWS::Cognito::UserPoolGroup"):
            props = self.stack.resolve(spec["Properties"])
            if props.get("GroupName") != "admins":
                continue
            pool_id = props["UserPoolId"]
            password = _password()
            with contextlib.suppress(idp.exceptions.UsernameExistsException):
                idp.admin_create_user(
                    UserPoolId=pool_id,
                    Username=ADMIN_EMAIL,
                    UserAttributes=[
                        {"Name": "email", "Value": ADMIN_EMAIL},
                        {"Name": "email_verified", "Value": "true"},
                    ],
                    MessageAction="SUPPRESS",
                )
            idp.admin_set_user_password(UserPoolId=pool_id, Username=ADMIN_EMAIL, Password=password, Permanent=True)
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=ADMIN_EMAIL, GroupName="admins")
            return ADMIN_EMAIL, password
        return None, None


def make_private(state_dir: Path) -> None:
    """Make the state folder the owner's only: it holds every client secret, the admin password (in the
    snapshot's user pools and in credentials.json) and the token signing key.

    Sets this process's umask, so that whatever is created from here on is 0700/0600 — by the state store,
    the function pool's log files, the workers (they inherit it) — then tightens what an older run left
    readable to group or others. Symbolic links are left alone (their mode means nothing; their targets
    are not the state folder's).
    """
    os.umask(0o077)
    state_dir.mkdir(parents=True, exist_ok=True)
    paths = [state_dir]
    for root, dirs, files in os.walk(state_dir):
        paths += [Path(root, name) for name in (*dirs, *files)]
    for path in paths:
        try:
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            private = 0o700 if stat.S_ISDIR(mode) else stat.S_IMODE(mode) & 0o700
            if stat.S_IMODE(mode) != private:
                path.chmod(private)
        except OSError as exc:  # not ours, or gone meanwhile
            log.warning("could not make %s readable by its owner only: %s", path, exc)


def _layer_create_app_client() -> Any:
    """The layer's `create_app_client` (the one the admin API calls), loaded from its file: the runtime process does
    not put the layer on its path (the functions' processes do), and that module needs nothing else of the layer."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "layers" / "core" / "genai_core" / "admin" / "clients.py"
    spec = importlib.util.spec_from_file_location("offline_layer_admin_clients", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_app_client


def _password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(16))
    return f"{core}!a1"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
