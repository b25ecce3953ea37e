"""The deployment profile: which documented optional features (schemas/features.yaml) this
deployment has on or off, decided once at discovery, and the switches that change what the documents
promise (auto-login, webhook authentication). Every requirement kind reads it the same way: an
endpoint whose feature is off is skipped with the setting that turns it on, never failed."""

from __future__ import annotations

from typing import Any

import httpx

from .contract import SelectedContract
from .contract.features import Feature

SWITCHES = ("webhook_auth_enable", "event_delivery", "voice_mode_available")  # /api/v1/config fields


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _probe(client: httpx.Client, contract: SelectedContract, feature: Feature) -> tuple[bool | None, str]:
    assert feature.probe is not None
    endpoint = contract.contract.endpoint(str(feature.probe["endpoint"]))
    path, query = endpoint.path, {}
    for name, value in (feature.probe.get("params") or {}).items():
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", str(value))
        else:
            query[name] = value
    try:
        response = client.request(endpoint.method, path, params=query)
    except httpx.TransportError as exc:
        return None, f"{endpoint.method} {path} got no answer ({type(exc).__name__})"
    text = response.text[:300]
    off = feature.says_off(response.status_code, _body(response), text)
    # Only an answer that says "off" is quoted: an answer of the feature itself may hold user data (log lines).
    said = f"{endpoint.method} {endpoint.path} answered {response.status_code}" + (f" {text[:100]!r}" if off else "")
    return not off, said


def feature_states(
    client: httpx.Client,
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
            on, how = _probe(client, contract, feature)
        if (off_by_embedding or {}).get(feature_id):
            on, how = False, off_by_embedding[feature_id]  # type: ignore[index]
        states[feature_id] = {"on": on, "how": how, "summary": feature.summary, "setting": feature.setting}
    return states


def profile(
    client: httpx.Client,
    contract: SelectedContract,
    config: dict[str, Any] | None,
    auto_login: bool,
    off_by_embedding: dict[str, str] | None = None,
) -> dict[str, Any]:
    switches: dict[str, Any] = {"auto_login": auto_login}
    for name in SWITCHES:
        if isinstance(config, dict) and name in config:
            switches[name] = config[name]
    return {"features": feature_states(client, contract, config, off_by_embedding), "switches": switches}


def off_reason(profile_data: dict[str, Any] | None, contract: SelectedContract, feature_id: str | None) -> str | None:
    """The skip reason when the endpoint's feature is off on this deployment, else None."""
    if not feature_id or not profile_data:
        return None
    state = (profile_data.get("features") or {}).get(feature_id)
    if state is None or state.get("on") is not False:
        return None
    return contract.contract.features[feature_id].skip_reason
