// Debian's libopenblas-dev installs cblas.h under /usr/include/x86_64-linux-gnu via alternatives.
#include <cblas.h>
// Not declared by every cblas.h: OpenBLAS's run-time thread control.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
