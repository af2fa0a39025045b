// rollback-receiver: the daemon's entry point.
#include "daemon/daemon.hpp"

int main(int argc, char** argv) {
    return rollback::run_daemon(argc, argv);
}
