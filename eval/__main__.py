import sys

if sys.argv[1:2] == ["replay"]:
    from eval.replay import main
else:
    from eval.harness import main

sys.exit(main())
