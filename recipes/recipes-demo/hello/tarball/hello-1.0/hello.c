#include <stdio.h>

int main(void)
{
    puts("Hello from Bitzel");
    return 0;
}
