// A static i386 (ELF32) program, hand-assembled so that no i386 compiler or multilib is needed. Through int 0x80 it
// writes "ok\n", then tries unshare(CLONE_NEWUSER) and keyctl(KEYCTL_GET_KEYRING_ID) and prints each result on a line
// of its own ("ok", or the errno in two digits: "01" for EPERM), and exits 0. If write is refused, nothing is printed
// and exit is refused too: the program then hits ud2 and dies of SIGILL.

/** Machine code, loaded at BASE + CODE_OFFSET; call rel32 offsets are from the next instruction. */
const CODE = [
  // _start (0x00)
  [0x31, 0xc0], //                         xor eax, eax            ; "result 0": report prints "ok"
  [0xe8, 0x31, 0x00, 0x00, 0x00], //       call report (0x38)
  [0xb8, 0x36, 0x01, 0x00, 0x00], //       mov eax, 310            ; __NR_unshare (i386)
  [0xbb, 0x00, 0x00, 0x00, 0x10], //       mov ebx, 0x10000000     ; CLONE_NEWUSER
  [0xcd, 0x80], //                         int 0x80
  [0xe8, 0x20, 0x00, 0x00, 0x00], //       call report
  [0xb8, 0x20, 0x01, 0x00, 0x00], //       mov eax, 288            ; __NR_keyctl (i386)
  [0x31, 0xdb], //                         xor ebx, ebx            ; KEYCTL_GET_KEYRING_ID
  [0xb9, 0xfd, 0xff, 0xff, 0xff], //       mov ecx, -3             ; KEY_SPEC_SESSION_KEYRING
  [0x31, 0xd2], //                         xor edx, edx            ; do not create
  [0xcd, 0x80], //                         int 0x80
  [0xe8, 0x0b, 0x00, 0x00, 0x00], //       call report
  [0xb8, 0x01, 0x00, 0x00, 0x00], //       mov eax, 1              ; __NR_exit (i386)
  [0x31, 0xdb], //                         xor ebx, ebx            ; status 0
  [0xcd, 0x80], //                         int 0x80
  [0x0f, 0x0b], //                         ud2                     ; only reached if exit was refused
  // report (0x38): eax = a syscall's result; writes "ok\n" if >= 0, else the errno as "NN\n"
  [0xb9, 0x6f, 0x6b, 0x0a, 0x00], //       mov ecx, 0x000a6b6f     ; "ok\n" as little-endian bytes
  [0x85, 0xc0], //                         test eax, eax
  [0x79, 0x0d], //                         jns .out (0x4e)
  [0xf7, 0xd8], //                         neg eax                 ; errno
  [0xd4, 0x0a], //                         aam                     ; ah = errno / 10, al = errno % 10
  [0x86, 0xc4], //                         xchg al, ah             ; tens digit first in memory
  [0x05, 0x30, 0x30, 0x0a, 0x00], //       add eax, 0x000a3030     ; both to ASCII, then "\n"
  [0x89, 0xc1], //                         mov ecx, eax
  // .out (0x4e)
  [0x51], //                               push ecx                ; the 3 bytes to write, on the stack
  [0xb8, 0x04, 0x00, 0x00, 0x00], //       mov eax, 4              ; __NR_write (i386)
  [0xbb, 0x01, 0x00, 0x00, 0x00], //       mov ebx, 1              ; stdout
  [0x89, 0xe1], //                         mov ecx, esp
  [0xba, 0x03, 0x00, 0x00, 0x00], //       mov edx, 3
  [0xcd, 0x80], //                         int 0x80
  [0x59], //                               pop ecx
  [0xc3], //                               ret
].flat();

const BASE = 0x08048000;
const EHDR = 52;
const PHDR = 32;
const CODE_OFFSET = EHDR + PHDR;

/** ELF header + one PT_LOAD (R+X) mapping the whole file at BASE, then the code. */
export function i386Program(): Buffer {
  const size = CODE_OFFSET + CODE.length;
  const b = Buffer.alloc(size);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1 /* ELFCLASS32 */, 1 /* little-endian */, 1 /* EV_CURRENT */], 0);
  b.writeUInt16LE(2, 16); // e_type ET_EXEC
  b.writeUInt16LE(3, 18); // e_machine EM_386
  b.writeUInt32LE(1, 20); // e_version
  b.writeUInt32LE(BASE + CODE_OFFSET, 24); // e_entry
  b.writeUInt32LE(EHDR, 28); // e_phoff
  b.writeUInt32LE(0, 32); // e_shoff: no section headers
  b.writeUInt32LE(0, 36); // e_flags
  b.writeUInt16LE(EHDR, 40); // e_ehsize
  b.writeUInt16LE(PHDR, 42); // e_phentsize
  b.writeUInt16LE(1, 44); // e_phnum
  // e_shentsize, e_shnum, e_shstrndx stay 0
  b.writeUInt32LE(1, EHDR); // p_type PT_LOAD
  b.writeUInt32LE(0, EHDR + 4); // p_offset
  b.writeUInt32LE(BASE, EHDR + 8); // p_vaddr
  b.writeUInt32LE(BASE, EHDR + 12); // p_paddr
  b.writeUInt32LE(size, EHDR + 16); // p_filesz
  b.writeUInt32LE(size, EHDR + 20); // p_memsz
  b.writeUInt32LE(5, EHDR + 24); // p_flags PF_R | PF_X
  b.writeUInt32LE(0x1000, EHDR + 28); // p_align
  b.set(CODE, CODE_OFFSET);
  return b;
}
