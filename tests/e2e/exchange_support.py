"""What the e2e tests import, gathered from the shared test-support package (tests/support/tethertest):
the developer's machine (`local`), the tether processes (`launch`) and the cluster side (`kubesim`)."""
from tethertest.kubesim import (  # noqa: F401
    Demo, SAMPLE, TETHER_OBJECTS, assert_points_at_shadow, endpoint_names, make_demo, namespace_for,
    tether_annotations, watch_until)
from tethertest.launch import CliSession, Launcher, run_tether, tether_env  # noqa: F401
from tethertest.local import CuttableProxy, LocalServer  # noqa: F401
from tethertest.ports import free_port  # noqa: F401
