"""initialize / initialized / configuration / shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from carryover.lsp.announce import Change
from carryover.lsp.guard import guarded
from carryover.lsp.server import distiller_settings
from carryover.lsp.settings import SECTION, SettingsError, apply_change, settings_to_wire

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer

logger = logging.getLogger(__name__)


def apply_settings(ls: CarryoverServer, raw: object, origin: str) -> bool:
    """Merge a settings change; on a bad value keep the settings and tell the user. Returns whether
    anything changed."""
    try:
        new, unknown = apply_change(ls.settings, raw)
    except SettingsError as error:
        logger.warning("settings from %s ignored: %s", origin, error)
        ls.show(f"Carryover: settings ignored: {error}", lsp.MessageType.Warning)
        return False
    if unknown:
        logger.warning("unknown settings from %s ignored: %s", origin, ", ".join(unknown))
    old, ls.settings = ls.settings, new
    ls.client_log.set_level_name(new.log_level)
    ls.capture.enabled = new.capture
    ls.capture.set_exclude(new.exclude)
    if new == old:
        return False
    before, after = settings_to_wire(old), settings_to_wire(new)
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    if old.key != new.key:
        changed["key"] = "(changed)"
    logger.info("settings from %s: %s", origin, changed)
    if old.embedder_fields() != new.embedder_fields() and ls.store._future is not None:
        logger.info("the embedder settings changed: reopening the memory pool")
        ls.start_pool()
    elif old.capture != new.capture:
        ls.notify_status("capture-resumed" if ls.capture.recording else "capture-paused")
    if ls.capture_service is not None and distiller_settings(old) != distiller_settings(new):
        configure = ls.workers.run(ls.capture_service.configure_distiller, distiller_settings(new))
        ls.background.spawn(configure, name="configure-distiller")
    ls.announcer.announce(Change.SETTINGS_CHANGED)
    return True


async def pull_configuration(ls: CarryoverServer) -> None:
    if not ls.client_supports("workspace", "configuration"):
        return
    try:
        values = await asyncio.wait_for(
            ls.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SECTION)])
            ),
            10.0,
        )
    except Exception as error:  # noqa: BLE001 - a client that cannot answer keeps the settings we have
        logger.info("workspace/configuration not answered: %s", error)
        return
    if values and values[0] is not None:
        apply_settings(ls, values[0], "workspace/configuration")


def register(server: CarryoverServer) -> None:
    @server.feature(lsp.INITIALIZE)
    @guarded("initialize")
    async def initialize(ls: CarryoverServer, params: lsp.InitializeParams) -> None:
        ls.client_log.attach(asyncio.get_running_loop())
        if params.initialization_options is not None:
            apply_settings(ls, params.initialization_options, "initializationOptions")
        ls.start_pool()

    @server.feature(lsp.INITIALIZED)
    @guarded("initialized")
    async def initialized(ls: CarryoverServer, _params: lsp.InitializedParams) -> None:
        ls.background.spawn(pull_configuration(ls), name="pull-configuration")

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded("didChangeConfiguration")
    async def did_change_configuration(ls: CarryoverServer, params: lsp.DidChangeConfigurationParams) -> None:
        raw: Any = params.settings
        if isinstance(raw, dict) and raw:
            apply_settings(ls, raw, "didChangeConfiguration")
        else:  # the client only says "something changed": ask for the section
            ls.background.spawn(pull_configuration(ls), name="pull-configuration")

    @server.feature(lsp.SHUTDOWN)
    @guarded("shutdown")
    async def shutdown(ls: CarryoverServer, _params: None) -> None:
        await ls.close()
