"""What pygls answers ``initialize`` with (generated: ``python -m carryover.lsp.early --write``;
tests/test_startup.py fails when the features no longer give this). ``positionEncoding`` is
chosen per client (early.py)."""

from typing import Any

# fmt: off
CAPABILITIES: dict[str, Any] = {'codeActionProvider': {'codeActionKinds': ['quickfix', 'quickfix.carryover'],
                        'resolveProvider': False},
 'codeLensProvider': {'resolveProvider': False},
 'executeCommandProvider': {'commands': ['carryover.pin',
                                         'carryover.reject',
                                         'carryover.restore',
                                         'carryover.forget',
                                         'carryover.search',
                                         'carryover.show',
                                         'carryover.why',
                                         'carryover.distill',
                                         'carryover.pauseCapture',
                                         'carryover.resumeCapture',
                                         'carryover.export',
                                         'carryover.list',
                                         'carryover.suggest',
                                         'carryover.accept',
                                         'carryover.share']},
 'hoverProvider': True,
 'inlayHintProvider': {'resolveProvider': False},
 'textDocumentSync': {'change': 2, 'openClose': True, 'save': {'includeText': False}},
 'workspace': {'fileOperations': {},
               'workspaceFolders': {'changeNotifications': True, 'supported': True}}}

SERVER_INFO: dict[str, Any] = {'name': 'carryover', 'version': '0.1.0'}
# fmt: on
