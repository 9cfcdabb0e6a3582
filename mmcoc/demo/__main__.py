from mmcoc.demo.app import main

main()
