#ifndef S4100_APP_H
#define S4100_APP_H

int app_measure(int argc, char **argv);

#endif
