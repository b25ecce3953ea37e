"""The deployment profile: which documented optional features (schemas/features.yaml) this
deployment has on or off, decided once at discovery, and the switches that change what the documents
promise (auto-login, webhook authentication). Every requirement kind reads it the same way: an
endpoint whose feature is off is skipped with the setting that turns it on, never failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from conformance.contract import SelectedContract
from conformance.contract.features import Feature

SWITCHES = ("webhook_auth_enable", "event_delivery", "voice_mode_available")  # /api/v1/config fields


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass(frozen=True)
class Prober:
    """What discovery may send to tell a feature: the run's client, one without credentials (a probe
    of what anonymous callers get), whether it may POST (not in read-only mode), the login (a probe
    body may name the superuser)."""

    client: httpx.Client
    anonymous: httpx.Client
    may_post: bool
    login: tuple[str, str] | None = None

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("@superuser."):
            if self.login is None:
                raise LookupError("--username/--password")
            return self.login[0] if value.endswith(".username") else self.login[1]
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    def probe(self, contract: SelectedContract, feature: Feature) -> tuple[bool | None, str]:
        probe = feature.probe or {}
        endpoint = contract.contract.endpoint(str(probe["endpoint"]))
        if endpoint.method not in ("GET", "HEAD") and not self.may_post:
            return None, f"not probed: mode read-only sends no {endpoint.method}"
        path, query = endpoint.path, {}
        for name, value in (probe.get("params") or {}).items():
            if "{" + name + "}" in path:
                path = path.replace("{" + name + "}", str(value))
            else:
                query[name] = value
        kwargs: dict[str, Any] = {"params": query}
        try:
            if "body" in probe:
                kwargs["json"] = self._resolve(probe["body"])
        except LookupError as missing:
            return None, f"not probed: the probe needs {missing}"
        client = self.anonymous if probe.get("anonymous") else self.client
        try:
            response = client.request(endpoint.method, path, **kwargs)
        except httpx.TransportError as exc:
            return None, f"{endpoint.method} {path} got no answer ({type(exc).__name__})"
        text = response.text[:300]
        off_when = tuple(probe.get("off_when") or feature.off_when)
        off = Feature(feature.id, "", "", False, off_when=off_when).says_off(
            response.status_code, _body(response), text
        )
        # Only an answer that says "off" is quoted: an answer of the feature itself may hold user data (log lines).
        said = f"{endpoint.method} {endpoint.path} answered {response.status_code}" + (
            f" {text[:100]!r}" if off else ""
        )
        return not off, said


def feature_states(
    prober: Prober,
    contract: SelectedContract,
    config: dict[str, Any] | None,
    off_by_embedding: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each feature an applicable endpoint needs: on (True/False, None when it cannot be told) and how
    that was decided. Probes are reads only, one request per feature."""
    used = {e.feature for e in contract.endpoints if e.feature and not contract.not_applicable_reason(e)}
    states: dict[str, dict[str, Any]] = {}
    for feature_id in sorted(f for f in used if f):
        feature = contract.contract.features[feature_id]
        on: bool | None = None
        how = "not decided: no /api/v1/config field and no probe tell"
        flag = (feature.config or {}).get("flag")
        if flag and isinstance(config, dict) and flag in config:
            on = config[flag] == feature.config.get("on", True)  # type: ignore[union-attr]
            how = f"GET /api/v1/config says {flag}={config[flag]!r}"
        elif feature.probe is not None:
            on, how = prober.probe(contract, feature)
        if (off_by_embedding or {}).get(feature_id):
            on, how = False, off_by_embedding[feature_id]  # type: ignore[index]
        states[feature_id] = {"on": on, "how": how, "summary": feature.summary, "setting": feature.setting}
    return states


def profile(
    prober: Prober,
    contract: SelectedContract,
    config: dict[str, Any] | None,
    auto_login: bool,
    off_by_embedding: dict[str, str] | None = None,
) -> dict[str, Any]:
    switches: dict[str, Any] = {"auto_login": auto_login}
    for name in SWITCHES:
        if isinstance(config, dict) and name in config:
            switches[name] = config[name]
    return {"features": feature_states(prober, contract, config, off_by_embedding), "switches": switches}


def off_reason(profile_data: dict[str, Any] | None, contract: SelectedContract, feature_id: str | None) -> str | None:
    """The skip reason when the endpoint's feature is off on this deployment, else None."""
    if not feature_id or not profile_data:
        return None
    state = (profile_data.get("features") or {}).get(feature_id)
    if state is None or state.get("on") is not False:
        return None
    return contract.contract.features[feature_id].skip_reason
