from hrm.cli import main

raise SystemExit(main())
