// rollback-receiver: the daemon's entry point.
#include "core/daemon.hpp"

int main(int argc, char** argv) {
    return rollback::run_daemon(argc, argv);
}
