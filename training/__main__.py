"""`python -m training` = `sphereapp-train`."""

from training.cli import main

raise SystemExit(main())
