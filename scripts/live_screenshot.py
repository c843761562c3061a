"""Screenshot of live mode: the simulated headset streamed in real time through the tracker, with the
HUD (per-stage latency and fps), a simulated unplug of one camera (banner, "no signal" view) and
recording on.

Predictions come from ``--model`` (default: live mode's, the shipped light network ``resources/weights/umetrack_light.pt``; without
it the HUD says "no model" and only ground truth is drawn). Run under
``xvfb-run -a python scripts/live_screenshot.py [--model WEIGHTS] [--out docs/screenshots/live.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from screenshot_support import REPO, process_events, screenshot_window

from app.live_actions import DEFAULT_MODEL, LiveConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "live.png")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with screenshot_window() as (window, folder):
        window.show()
        actions = window.live_actions
        actions.start_live(LiveConfig(source="simulated", seed=args.seed, num_views=4, model_path=args.model, record_folder=folder))
        process_events(120, until=lambda: window.session.live.active)
        process_events(8)
        actions.record_action.setChecked(True)
        process_events(2)
        actions.simulate_unplug(3, 10.0)
        process_events(3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        print(actions.panel.hud.text())
        print(actions.panel.banner.text())
        actions.record_action.setChecked(False)
        process_events(30, until=lambda: actions.last_recording is not None)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
